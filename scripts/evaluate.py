"""`idd-evaluate` as a script: the tool, its usage text and flags are idd_tf/cli/evaluate.py."""

from idd_tf.cli import evaluate

if __name__ == "__main__":
    evaluate.main()
