"""The one error type for everything a user can get wrong.

A bad argument, suite file, model, weights file, image folder or run directory raises
``UserError`` (or a subclass naming where it came from), before any work is done. The command
line turns it into one line on standard error and exit status 2; the Python API lets it
propagate. ``UserError`` is a ``ValueError``, so code that caught the old ``ValueError`` of a
bad argument still does; ``UnknownNameError`` is also a ``KeyError`` for unknown names.

This module imports nothing heavy: the command line imports it before PyTorch.
"""

from __future__ import annotations


class UserError(ValueError):
    """Something the user can fix: the message names the problem and, where there is one,
    what to do instead."""


class UnknownNameError(UserError, KeyError):
    """A name (model, dataset, attack, layer, photo, ...) that is not among those there are;
    the message lists them or suggests the closest."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Interrupted(BaseException):
    """A run stopped by SIGINT or SIGTERM between or inside jobs.

    ``str(err)`` says what was kept and how to resume; the command line exits with
    ``128 + signum`` (130 for SIGINT, 143 for SIGTERM). A ``BaseException``, like
    ``KeyboardInterrupt``, so that a job's ``except Exception`` does not record it as the
    job's failure.
    """

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
