"""`idd-probe-factors` as a script: the tool, its usage text and flags are idd_tf/cli/probe_factors.py."""

from idd_tf.cli import probe_factors

if __name__ == "__main__":
    probe_factors.main()
