"""Every script's first call, `_console.setup()`: a quiet console unless --verbose (or IDD_TF_VERBOSE=1).

TensorFlow's C++ start-up lines ("Could not find cuda drivers", "cpu_feature_guard", "failed call
to cuInit", ...) are written straight to file descriptor 2 before its log level applies, so they
are hidden by pointing descriptor 2 at /dev/null while TensorFlow is imported and its devices are
listed; Python's own errors are shown as usual (the descriptor is restored first). TensorFlow's
Python INFO lines (checkpoint sharding, ...) are hidden by its logger's level. `--verbose` shows
everything, with TF_CPP_MIN_LOG_LEVEL=0.
"""

import os
import sys
import time

from absl import flags

flags.DEFINE_bool("verbose", False, "show TensorFlow's C++ and INFO start-up lines (hidden by default)")

VERBOSE = "--verbose" in sys.argv[1:] or os.environ.get("IDD_TF_VERBOSE") == "1"
START = time.perf_counter()


def elapsed() -> str:
    """Time since the script started, for its final summary line ("in 3m12s")."""
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


def setup():
    """Before anything imports TensorFlow."""
    if VERBOSE:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        _quiet_import()
