"""`idd-generate-dataset` as a script: the tool, its usage text and flags are idd_tf/cli/generate_dataset.py."""

from idd_tf.cli import generate_dataset

if __name__ == "__main__":
    generate_dataset.main()
