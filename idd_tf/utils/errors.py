"""The one user-error type: a problem the user can fix (a bad file, flag or config value).

Command-line tools catch it in one place (`idd_tf.cli`), print its message on one line and exit
non-zero; anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input, said in one line that names what is at fault."""
