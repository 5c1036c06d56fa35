"""The user's mistakes: one line on standard error and exit status 2, never a traceback."""

from __future__ import annotations

EXIT_USAGE = 2


class UsageError(Exception):
    """A bad argument, suite file, model or folder: reported as one line, exit status 2."""
