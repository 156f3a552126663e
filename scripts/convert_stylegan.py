"""`idd-convert-stylegan` as a script: the tool, its usage text and flags are idd_tf/cli/convert_stylegan.py."""

from idd_tf.cli import convert_stylegan

if __name__ == "__main__":
    convert_stylegan.main()
