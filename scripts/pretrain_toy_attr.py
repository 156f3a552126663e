"""`idd-pretrain-toy-attr` as a script: the tool, its usage text and flags are idd_tf/cli/pretrain_toy_attr.py."""

from idd_tf.cli import pretrain_toy_attr

if __name__ == "__main__":
    pretrain_toy_attr.main()
