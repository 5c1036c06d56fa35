"""What a user model spec is: the file suffixes, the spec test and the error type.

Kept apart from the loaders so ``zoo.user_factory``, ``zoo.user_archive`` and
``zoo.user_probe`` can share ``UserModelError`` without importing ``zoo.user_models``.
"""

from __future__ import annotations

from pathlib import Path

from zoo.errors import UserError

EXPORTED_SUFFIX = ".pt2"
SCRIPT_SUFFIXES = (".pt", ".pth", ".ts")
#: how much of a library's error message a user error quotes
MESSAGE_CHARS = 300


class UserModelError(UserError):
    """A user-supplied model spec that cannot be turned into a classifier."""


class MissingModelFileError(UserModelError, FileNotFoundError):
    """A model file, factory file or weights file a spec names is not there."""


class ModelImportError(UserModelError, ImportError):
    """The module a ``module.path:factory`` spec names does not import, or has no such
    factory."""


def is_user_spec(spec: str, registered: bool = False) -> bool:
    """Whether ``spec`` names a user model rather than a registry entry or ``tv:<arch>``."""
    if spec.startswith("tv:") or registered:
        return False
    if ":" in spec:
        return True
    # a missing model.pt is still a file the user meant, and is refused as not found
    return Path(spec).suffix in (EXPORTED_SUFFIX, *SCRIPT_SUFFIXES)


def is_factory_spec(spec: str) -> bool:
    """Whether ``spec`` is ``module.path:factory`` / ``file.py:factory`` rather than a file."""
    suffix = Path(spec).suffix
    return ":" in spec and suffix != EXPORTED_SUFFIX and suffix not in SCRIPT_SUFFIXES


def one_line(err: BaseException) -> str:
    """An exception's message on one line: the command line prints a user error as one line,
    and torch's messages often span several."""
    text = " ".join(str(err).split())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 3] + "..."
