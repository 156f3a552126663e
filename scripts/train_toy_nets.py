"""`idd-train-toy-nets` as a script: the tool, its usage text and flags are idd_tf/cli/train_toy_nets.py."""

from idd_tf.cli import train_toy_nets

if __name__ == "__main__":
    train_toy_nets.main()
