"""`idd-export` as a script: the tool, its usage text and flags are idd_tf/cli/export.py."""

from idd_tf.cli import export

if __name__ == "__main__":
    export.main()
