"""What a user model spec is: the file suffixes, the spec test and the error type.

Kept apart from the loaders so ``zoo.user_factory``, ``zoo.user_archive`` and
``zoo.user_probe`` can share ``UserModelError`` without importing ``zoo.user_models``.
"""

from __future__ import annotations

from pathlib import Path

from zoo.errors import UserError

EXPORTED_SUFFIX = ".pt2"
SCRIPT_SUFFIXES = (".pt", ".pth", ".ts")


class UserModelError(UserError):
    """A user-supplied model spec that cannot be turned into a classifier."""


def is_user_spec(spec: str, registered: bool = False) -> bool:
    """Whether ``spec`` names a user model rather than a registry entry or ``tv:<arch>``."""
    if spec.startswith("tv:") or registered:
        return False
    if ":" in spec:
        return True
    suffix = Path(spec).suffix
    return suffix == EXPORTED_SUFFIX or (suffix in SCRIPT_SUFFIXES and Path(spec).is_file())


def is_factory_spec(spec: str) -> bool:
    """Whether ``spec`` is ``module.path:factory`` / ``file.py:factory`` rather than a file."""
    suffix = Path(spec).suffix
    return ":" in spec and suffix != EXPORTED_SUFFIX and suffix not in SCRIPT_SUFFIXES
