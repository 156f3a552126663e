"""`idd-train-landmarks` as a script: the tool, its usage text and flags are idd_tf/cli/train_landmarks.py."""

from idd_tf.cli import train_landmarks

if __name__ == "__main__":
    train_landmarks.main()
