"""`idd-toy-table` as a script: the tool, its usage text and flags are idd_tf/cli/toy_table.py."""

from idd_tf.cli import toy_table

if __name__ == "__main__":
    toy_table.main()
