"""`idd-build-toy-world` as a script: the tool, its usage text and flags are idd_tf/cli/build_toy_world.py."""

from idd_tf.cli import build_toy_world

if __name__ == "__main__":
    build_toy_world.main()
