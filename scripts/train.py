"""`idd-train` as a script: the tool, its usage text and flags are idd_tf/cli/train.py."""

from idd_tf.cli import train

if __name__ == "__main__":
    train.main()
