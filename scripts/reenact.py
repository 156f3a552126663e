"""`idd-reenact` as a script: the tool, its usage text and flags are idd_tf/cli/reenact.py."""

from idd_tf.cli import reenact

if __name__ == "__main__":
    reenact.main()
