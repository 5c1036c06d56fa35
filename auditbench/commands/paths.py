"""The output paths the commands write to: checked before any model is loaded, and a refused
run leaves nothing behind.

``run_dir`` makes (or checks) a run directory and, if the command is refused before its
first job (a ``UserError``, or an interruption while it is checked), removes exactly what
this call created: the files it names that were not there before (one that was is put back
as it was), then the directories it made, when they are empty. Nothing else is touched.
``check_out_file`` checks a file the command will write (``train --out``), leaving nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from zoo.errors import Interrupted, UserError

#: the results store: once it changes, jobs have started and nothing is removed
STORE = "results.sqlite"


def _state(path: Path) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a file, ``None`` when it is not there."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _read(path: Path) -> bytes | None:
    """A small file's bytes (``audit.toml``), ``None`` when there is none to read."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _nearest_existing(path: Path, flag: str, command: str) -> tuple[Path, list[Path]]:
    """The deepest existing ancestor of ``path`` (``path`` itself if it exists) and the
    missing directories below it, outermost first."""
    missing: list[Path] = []
    current = path
    try:
        while not current.exists() and not current.is_symlink():
            missing.append(current)
            if current.parent == current:
                break
            current = current.parent
    except OSError as err:  # a parent we may not look into
        raise UserError(f"{command}: {flag} {path} cannot be used: {err.strerror or err}") from None
    return current, missing[::-1]


def make_dir(path: Path, flag: str, command: str) -> list[Path]:
    """Make the directory ``path`` (and its parents) and check that it can be written; the
    directories this call created, outermost first. ``UserError`` (nothing left behind)
    when it is a file, lies under a file, cannot be made or cannot be written."""
    existing, missing = _nearest_existing(path, flag, command)
    if not existing.is_dir():
        where = "is a file" if existing == path else f"lies under {existing}, which is a file"
        raise UserError(f"{command}: {flag} {path} {where}: give a directory")
    created: list[Path] = []
    try:
        for directory in missing:
            directory.mkdir()
            created.append(directory)
    except OSError as err:
        remove_empty(created)
        raise UserError(f"{command}: {flag} {path} cannot be created: "
                        f"{err.strerror or err}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        remove_empty(created)
        raise UserError(f"{command}: {flag} {path} is not writable: give a directory you can "
                        "write")
    return created


def remove_empty(directories: Sequence[Path]) -> None:
    """Remove ``directories`` (outermost first) that are empty, innermost first."""
    for directory in reversed(directories):
        with suppress(OSError):  # not empty, or gone: left as it is
            directory.rmdir()


@dataclass
class RunDir:
    """A run directory being used by one command: what it created there so far."""

    path: Path
    created_dirs: list[Path] = field(default_factory=list)
    files_before: dict[str, bytes | None] = field(default_factory=dict)  # None: absent
    store_before: tuple[int, int] | None = None

    def undo(self) -> None:
        """Remove what this call created, unless jobs have started (the store changed)."""
        if _state(self.path / STORE) != self.store_before:
            return
        for name, content in self.files_before.items():
            path = self.path / name
            if content is None:
                with suppress(OSError):  # never made, or not a file of ours
                    path.unlink()
            elif _read(path) != content:  # rewritten by the refused call: put back as it was
                path.write_bytes(content)
        remove_empty(self.created_dirs)


@contextmanager
def run_dir(path: Path, *, files: Sequence[str] = (), flag: str = "--out",
            command: str = "auditbench run") -> Iterator[RunDir]:
    """Make and check the run directory ``path`` for the ``with`` block; when the block is
    refused (``UserError``) or interrupted before any job stored anything, remove the
    ``files`` it created and the directories this call made (when empty)."""
    before = {name: _read(path / name) for name in files}
    store = _state(path / STORE)
    created = make_dir(path, flag, command)
    state = RunDir(path, created, before, store)
    try:
        yield state
    except (UserError, Interrupted, KeyboardInterrupt):
        state.undo()
        raise


def check_out_file(path: Path, flag: str, command: str) -> None:
    """Check that the file ``path`` can be written (its directory made), leaving nothing:
    ``UserError`` when it is a directory, lies under a file or cannot be created."""
    if path.is_dir():
        raise UserError(f"{command}: {flag} {path} is a directory: give a file path, e.g. "
                        f"{path / 'weights.pt'}")
    existing, missing = _nearest_existing(path, flag, command)
    if existing == path:
        if not os.access(path, os.W_OK):
            raise UserError(f"{command}: {flag} {path} is not writable")
        return
    if not existing.is_dir():
        raise UserError(f"{command}: {flag} {path} lies under {existing}, which is a file: "
                        "give a path in a directory")
    created = make_dir(path.parent, flag, command) if missing[:-1] else []
    try:
        # create and remove the file itself: a place like /proc refuses only then
        with open(path, "xb"):
            pass
        path.unlink()
    except OSError as err:
        raise UserError(f"{command}: {flag} {path} cannot be written: "
                        f"{err.strerror or err}") from None
    finally:
        remove_empty(created)
