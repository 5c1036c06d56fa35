"""How the command line ends: the user's mistakes as one line and exit status 2, never a
traceback; interruptions with what was kept; anything else as a bug, with its traceback shown
only under ``--debug`` (or ``AUDITBENCH_DEBUG=1``)."""

from __future__ import annotations

from zoo.errors import Interrupted, UnknownNameError, UserError

#: jobs failed (the run itself finished and its report was written)
EXIT_FAILED_JOBS = 1
#: the user's mistake: a bad argument, suite, model, weights file, folder or run directory
EXIT_USAGE = 2
#: an error auditbench did not expect: a bug (sysexits' EX_SOFTWARE)
EXIT_BUG = 70

#: the command line's name for the one user-error type (``zoo.errors.UserError``)
UsageError = UserError

__all__ = ["EXIT_BUG", "EXIT_FAILED_JOBS", "EXIT_USAGE", "Interrupted", "UnknownNameError",
           "UsageError", "UserError"]
