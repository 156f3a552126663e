"""The command-line tools, one module each (`idd_tf.cli.train`, ...), installed as console scripts
(`idd-train`, ...; setup.cfg) and run by `python scripts/<tool>.py` too.

Each tool module defines `define_flags()` (its absl flags, defined when it runs, not when it is
imported: several tools can be imported in one process), `app_main(argv)` (its work, given what
absl leaves of argv) and `main(argv=None)`, the entry point: `run(app_main, define_flags, argv)`.
Tool modules import TensorFlow and idd_tf's layers inside functions only, after `console.setup`.

`run` is the one place where a user's error ends a tool: `idd_tf.utils.errors.UserError` (a bad
file, flag or config value) and the OSError kinds that always name a user's file are printed as
one absl ERROR line (the message only, no traceback) and exit with status 1 (or the error's
`exit_code`); anything else is a bug and keeps its traceback.
"""

import functools
import logging
import sys
import traceback

from idd_tf.cli import console
from idd_tf.utils.errors import UserError

USER_ERRORS = (UserError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
               PermissionError)


class Failed(UserError):
    """A user error with its own exit status (e.g. that of a step run in another process)."""

    def __init__(self, message, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class Diverged(UserError):
    """Training diverged (a non-finite loss): exit status 2, so scripts can tell it from a refusal."""
    exit_code = 2


def run(app_main, define_flags, argv=None):
    """A tool's entry point: quiet console (before TensorFlow), its flags, absl's app.run, user
    errors reported by `reporting_user_errors`. `argv` defaults to sys.argv."""
    console.setup(argv)
    define(define_flags)
    main_module = sys.modules.get("__main__")
    doc = getattr(sys.modules.get(app_main.__module__), "__doc__", None)
    if main_module is not None and doc:   # --help shows the tool's usage text (absl reads __main__'s)
        main_module.__doc__ = doc
    from absl import app
    app.run(reporting_user_errors(app_main), argv=argv)


def define(define_flags):
    """The tool's flags and --verbose, in absl's global FLAGS; the tool's are listed by --help (absl
    lists those of the main module, sys.argv[0])."""
    from absl import flags
    console.define_flags()
    before = set(flags.FLAGS)
    define_flags()
    for name in sorted(set(flags.FLAGS) - before):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[name])


def reporting_user_errors(app_main):
    """`app_main` whose user errors end the process with one line and status 1 (see the module)."""
    @functools.wraps(app_main)
    def wrapped(argv):
        try:
            return app_main(argv)
        except USER_ERRORS as e:
            report(e, app_main)
            sys.exit(getattr(e, "exit_code", 1))
    return wrapped


def report(error, app_main):
    """`error`'s message as one absl ERROR line, placed (file:line) where it left the tool's module,
    as the tool's own `logging.error("%s", error)` there would be."""
    from absl import logging as absl_logging
    path, line = app_main.__code__.co_filename, app_main.__code__.co_firstlineno
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == path:
            line = lineno
    logger = absl_logging.get_absl_logger()
    logger.handle(logger.makeRecord(logger.name, logging.ERROR, path, line, "%s", (error,), None,
                                    func=app_main.__name__))
