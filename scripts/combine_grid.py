"""`idd-grid` as a script: the tool, its usage text and flags are idd_tf/cli/combine_grid.py."""

from idd_tf.cli import combine_grid

if __name__ == "__main__":
    combine_grid.main()
