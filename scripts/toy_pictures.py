"""`idd-toy-pictures` as a script: the tool, its usage text and flags are idd_tf/cli/toy_pictures.py."""

from idd_tf.cli import toy_pictures

if __name__ == "__main__":
    toy_pictures.main()
