"""Every tool's first step, `console.setup(argv)`: a quiet console unless --verbose (or IDD_TF_VERBOSE=1).

TensorFlow's C++ start-up lines ("Could not find cuda drivers", "cpu_feature_guard", "failed call
to cuInit", ...) are written straight to file descriptor 2 before its log level applies, so they
are hidden by pointing descriptor 2 at /dev/null while TensorFlow is imported and its devices are
listed; Python's own errors are shown as usual (the descriptor is restored first). TensorFlow's
Python INFO lines (checkpoint sharding, ...) are hidden by its logger's level. `--verbose` shows
everything, with TF_CPP_MIN_LOG_LEVEL=0.

This module imports nothing of TensorFlow (nor of idd_tf's layers) at import time: `setup` must run
before TensorFlow is first imported.
"""

import os
import sys
import time

START = time.perf_counter()


def define_flags():
    """--verbose (read from argv by `setup` before flags are parsed; defined so absl accepts it)."""
    from absl import flags
    if "verbose" not in flags.FLAGS:
        flags.DEFINE_bool("verbose", False, "show TensorFlow's C++ and INFO start-up lines (hidden by default)")


def verbose(argv=None) -> bool:
    argv = sys.argv if argv is None else argv
    return "--verbose" in argv[1:] or os.environ.get("IDD_TF_VERBOSE") == "1"


def elapsed() -> str:
    """Time since the tool started, for its final summary line ("in 3m12s")."""
    from idd_tf.utils.monitor import format_duration
    return f"in {format_duration(time.perf_counter() - START)}"


def _quiet_import():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    sys.stderr.flush()
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf
        tf.config.list_physical_devices()   # device discovery: the cuInit line
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    tf.get_logger().setLevel("WARNING")
    import logging
    logging.getLogger("absl").addFilter(_library_info_filter)   # TensorFlow also logs through absl


def _library_info_filter(record) -> bool:
    """Drop INFO lines that TensorFlow / Keras code logs through absl (e.g. checkpoint sharding)."""
    import logging
    path = record.pathname.replace("\\", "/")
    return record.levelno >= logging.WARNING or not ("/tensorflow/" in path or "/keras/" in path)


def setup(argv=None):
    """Before anything imports TensorFlow; `argv` as the tool gets it (default sys.argv)."""
    global START
    START = time.perf_counter()
    if verbose(argv):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        _quiet_import()
