"""One run at a time per run directory: a second process is refused at once with the holder's
pid and writes nothing, and the lock goes with its holder however the holder ends (the end of
its ``with`` block, an exception, SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.lock import hold, holder
from zoo.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

# a few seconds of jobs: time enough to stop the first process while it holds the lock
SUITE = """
name = "locked"
seed = 0
[[task]]
kind = "toy"
eps = 0.5
[[task]]
kind = "representation"
model = ["mnist_cnn", "shapes_cnn"]
n = 200
"""

# a process that holds the lock until it is killed
HOLDER = """
import sys, time
from bench.lock import hold
with hold(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def _wait_for(predicate: Callable[[], bool]) -> None:
    # no wall-clock limit: the predicate checks the process instead, so that a process that
    # ended fails the test rather than hanging it
    while not predicate():
        time.sleep(0.05)


def test_a_held_lock_refuses_another_holder_naming_the_pid(tmp_path: Path) -> None:
    with hold(tmp_path / "run") as run:
        assert holder(run)["pid"] == os.getpid()
        refused = rf"in use by process {os.getpid()} \(started "
        with pytest.raises(UserError, match=refused), hold(run):
            pass
        message = ""
        try:
            with hold(run):
                pass
        except UserError as err:
            message = str(err)
        assert "\n" not in message and "use another --out" in message
        assert str(run) in message


def test_the_lock_is_released_after_the_block_and_after_an_exception(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with hold(run):
        pass
    with hold(run):  # released at the end of the block
        pass
    with pytest.raises(RuntimeError), hold(run):
        raise RuntimeError("a job broke")
    with hold(run):  # released on the way out of the exception
        pass


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=rf"process {proc.pid} "), hold(run):
            pass
    finally:
        proc.kill()
        proc.wait()
    with hold(run):  # the kernel dropped the dead holder's lock: nothing stale is left
        assert holder(run)["pid"] == os.getpid()


def test_a_file_is_refused_as_a_run_directory(tmp_path: Path) -> None:
    path = tmp_path / "results.txt"
    path.write_text("not a directory")
    with pytest.raises(UserError, match="is a file"), hold(path):
        pass


def _auditbench(suite: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "auditbench", "run", "--suite", str(suite), "--out", str(out),
         "--threads", "1", "--no-report"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


@pytest.mark.slow
def test_a_second_process_on_a_run_directory_is_refused(tmp_path: Path) -> None:
    suite = tmp_path / "locked.toml"
    suite.write_text(textwrap.dedent(SUITE))
    run = tmp_path / "run"
    first = _auditbench(suite, run)
    try:
        def locked() -> bool:
            assert first.poll() is None, first.communicate()
            return holder(run).get("pid") == first.pid
        _wait_for(locked)
        # stopped while it holds the lock, so that the second surely finds it held
        first.send_signal(signal.SIGSTOP)
        before = _snapshot(run)
        second = _auditbench(suite, run)
        out, err = second.communicate()
        assert second.returncode == 2, err
        assert err.strip().count("\n") == 0, err
        assert f"is in use by process {first.pid} (started " in err
        assert "Traceback" not in err and out == ""
        assert _snapshot(run) == before  # the refused process wrote nothing
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate()
    assert first.returncode == 0, err
    assert out.startswith("3 jobs run, 0 already done, 0 failed")
    again = _auditbench(suite, run)
    out, err = again.communicate()
    assert again.returncode == 0, err
    assert out.startswith("0 jobs run, 3 already done, 0 failed")
