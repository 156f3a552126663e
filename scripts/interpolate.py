"""`idd-interpolate` as a script: the tool, its usage text and flags are idd_tf/cli/interpolate.py."""

from idd_tf.cli import interpolate

if __name__ == "__main__":
    interpolate.main()
