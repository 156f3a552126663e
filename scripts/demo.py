"""`idd-demo` as a script: the tool, its usage text and flags are idd_tf/cli/demo.py."""

from idd_tf.cli import demo

if __name__ == "__main__":
    demo.main()
