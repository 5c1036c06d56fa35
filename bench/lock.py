"""One run at a time per run directory: an exclusive lock on ``RUN_DIR/.lock``.

Two processes writing the same run directory would both run every job (neither sees the
other's work until it is stored). The runner holds this lock for the whole run; a second
process is refused at once with a ``UserError`` naming the holder's pid, host and start time.

The lock is ``flock`` on an open file, so the kernel drops it when the holder exits however it
exits: a SIGKILLed run leaves no stale lock behind, only the ``.lock`` file, which is reused.
The file is never deleted: a process that opened it just before the deletion would lock an
inode nobody else sees. Windows has no ``fcntl``: there the lock is a no-op. Imports nothing
heavy (no PyTorch), so that taking the lock is quick.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zoo.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: runs are not locked there
    fcntl = None  # type: ignore[assignment]

FILENAME = ".lock"


def lock_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / FILENAME


@contextmanager
def hold(run_dir: str | Path) -> Iterator[Path]:
    """Hold the run directory's lock for the ``with`` block (creating the directory);
    raises ``UserError`` when another process holds it, or when the directory cannot be made."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"run directory {run_dir} is a file: give --out a directory")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path(run_dir), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise UserError(f"run directory {run_dir} cannot be used: {err.strerror or err}; "
                        "give --out a directory you can write") from None
    try:
        _acquire(fd, run_dir)
        yield run_dir
    finally:
        # closing the descriptor releases the flock
        os.close(fd)


def holder(run_dir: str | Path) -> dict[str, Any]:
    """What the last holder wrote into the lock file (pid, host, started_at); ``{}`` if
    nothing readable is there (no file, or a holder that has not written it yet)."""
    try:
        info = json.loads(lock_path(run_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _acquire(fd: int, run_dir: Path) -> None:
    if fcntl is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise UserError(_in_use(run_dir)) from None
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "started_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)


def _in_use(run_dir: Path) -> str:
    info = holder(run_dir)
    who = f"process {info['pid']}" if "pid" in info else "another process"
    if info.get("host") and info["host"] != socket.gethostname():
        who += f" on {info['host']}"
    if info.get("started_at"):
        who += f" (started {info['started_at']})"
    return (f"run directory {run_dir} is in use by {who}: wait for it to finish or use "
            "another --out")
