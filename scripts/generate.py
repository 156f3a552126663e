"""`idd-generate` as a script: the tool, its usage text and flags are idd_tf/cli/generate.py."""

from idd_tf.cli import generate

if __name__ == "__main__":
    generate.main()
