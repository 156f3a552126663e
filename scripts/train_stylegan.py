"""`idd-train-stylegan` as a script: the tool, its usage text and flags are idd_tf/cli/train_stylegan.py."""

from idd_tf.cli import train_stylegan

if __name__ == "__main__":
    train_stylegan.main()
