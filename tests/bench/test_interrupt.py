"""Runs survive interruption: the quick suite stopped by SIGINT, SIGTERM and SIGKILL at
random points spread over the whole run (between jobs and inside them), then resumed, stores
the same values as an uninterrupted run, no job twice and no job failed; SIGINT and SIGTERM
end with exit 130 / 143 and one line saying what was kept, with no traceback.

In process: a job interrupted mid-way is neither stored nor recorded as failed, the bar is
closed, and the store's meta says the attempt did not finish.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bench.runner
from bench.store import db_path, load, load_jobs, load_meta
from bench.suite import load_suite, parse_suite
from tests.runs import stored_artifacts, stored_values
from zoo.errors import Interrupted

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
KILLS = 4  # SIGKILLs, besides one SIGINT and one SIGTERM


def _start(out: Path) -> subprocess.Popen[str]:
    # SIGINT back to its default, so that Python turns it into KeyboardInterrupt even when
    # the tests run where it is ignored (a shell's background job)
    return subprocess.Popen(
        [sys.executable, "-m", "auditbench", "run", "--suite", "quick", "--out", str(out),
         "--threads", "1", "--no-report"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _done(run: Path) -> int:
    """Jobs stored ``done`` so far; 0 before the store exists or while it cannot be read (a
    journal left by a kill is rolled back by the next run, not by this reader)."""
    path = db_path(run)
    if not path.is_file():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
            return conn.execute("SELECT count(*) FROM jobs WHERE status = 'done'").fetchone()[0]
    except sqlite3.Error:
        return 0


@dataclass
class Stop:
    """One interrupted attempt: the signal, the done count it was sent at, what came back."""

    signum: int
    sent_at: int
    returncode: int
    stderr: str
    done_after: int
    meta_after: dict[str, Any]


@dataclass
class InterruptedRun:
    run: Path
    jobs: int
    stops: list[Stop]
    resumed: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("reference") / "run"
    proc = _start(run)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return run


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> InterruptedRun:
    """The quick suite stopped ``KILLS + 2`` times, then resumed: once at a seeded random
    job count in each of ``KILLS + 2`` equal stretches of 0..N, so that the stops cover the
    whole run, and after a random delay, so that most land inside a job."""
    rng = random.Random(16)
    run = tmp_path_factory.mktemp("interrupted") / "run"
    jobs = len(load_suite("quick").jobs)
    n = KILLS + 2
    targets = [rng.randrange(i * jobs // n, (i + 1) * jobs // n) for i in range(n)]
    signals = [signal.SIGKILL] * n
    # SIGINT and SIGTERM early enough that the run is surely still going when they come
    first, second = rng.sample(range(n - 2), 2)
    signals[first], signals[second] = signal.SIGINT, signal.SIGTERM
    stops = []
    for target, signum in zip(targets, signals, strict=True):
        before = _done(run)
        if signum != signal.SIGKILL:
            # inside the job loop, where the runner turns the signal into what it kept
            target = max(target, before + 1)
        proc = _start(run)
        while proc.poll() is None and _done(run) < target:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            proc.send_signal(signum)
        _, err = proc.communicate()
        stops.append(Stop(int(signum), target, proc.returncode, err, _done(run),
                          load_meta(run) if db_path(run).is_file() else {}))
    proc = _start(run)
    out, err = proc.communicate()
    return InterruptedRun(run, jobs, stops,
                           subprocess.CompletedProcess(proc.args, proc.returncode, out, err))


def _stopped_by(interrupted: InterruptedRun, signum: int) -> Stop:
    (stop,) = [s for s in interrupted.stops if s.signum == signum]
    return stop


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code", "name"),
                         [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_stops_the_run_saying_what_was_kept(
    interrupted: InterruptedRun, signum: int, code: int, name: str
) -> None:
    stop = _stopped_by(interrupted, signum)
    kept, total = stop.done_after, interrupted.jobs
    assert stop.returncode == code, stop.stderr
    assert "Traceback" not in stop.stderr
    assert (f"auditbench: interrupted by {name} after {kept} of {total} jobs: {kept} kept in "
            f"{db_path(interrupted.run)}, {total - kept} left; run the same command again to "
            "resume\n") in stop.stderr
    assert 0 < kept < total
    # the attempt did not finish, and the time it ran is counted
    assert stop.meta_after["finished_at"] == ""
    assert stop.meta_after["wall_seconds"] > 0


@pytest.mark.slow
def test_sigkills_spread_over_the_run_lose_and_repeat_nothing(
    interrupted: InterruptedRun, reference: Path, record_property: Callable[[str, object], None]
) -> None:
    kills = [s for s in interrupted.stops if s.signum == signal.SIGKILL]
    killed = [s for s in kills if s.returncode == -signal.SIGKILL]
    record_property("killed_at", [s.sent_at for s in killed])
    assert len(killed) >= KILLS - 1, [(s.sent_at, s.returncode) for s in kills]
    # spread over the run: some in its first third, some in its last
    assert min(s.sent_at for s in killed) < interrupted.jobs / 3
    assert max(s.sent_at for s in killed) > 2 * interrupted.jobs / 3
    resumed = interrupted.resumed
    assert resumed.returncode == 0, resumed.stderr
    assert ", 0 failed in " in resumed.stdout
    run = interrupted.run
    assert load_meta(run)["finished_at"] != ""

    jobs, expected = load_jobs(run), load_jobs(reference)
    assert (jobs["status"] == "done").all()
    assert jobs["job_id"].is_unique
    assert sorted(jobs["job_id"]) == sorted(expected["job_id"])
    # each job's rows once: as many as the uninterrupted run stored
    rows = load(run).groupby("job_id").size().sort_index()
    pd.testing.assert_series_equal(rows, load(reference).groupby("job_id").size().sort_index())

    pd.testing.assert_frame_equal(stored_values(run), stored_values(reference))
    artifacts, reference_artifacts = stored_artifacts(run), stored_artifacts(reference)
    assert artifacts.keys() == reference_artifacts.keys()
    for key, arrays in artifacts.items():
        assert arrays.keys() == reference_artifacts[key].keys(), key
        for name, array in arrays.items():
            np.testing.assert_array_equal(array, reference_artifacts[key][name], err_msg=str(key))


# --- in process: the job in flight ------------------------------------------------------------

SUITE = """
name = "three"
[[task]]
kind = "toy"
eps = 0.1
[[task]]
kind = "toy"
eps = 0.3
[[task]]
kind = "toy"
eps = 0.5
"""


class Bar:
    """tqdm as the runner uses it, remembering whether it was closed."""

    closed = False

    def __init__(self, items: Any, **_: Any) -> None:
        self.items = list(items)

    def __iter__(self):
        return iter(self.items)

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        Bar.closed = True


@pytest.mark.parametrize(("stop", "signum"), [(KeyboardInterrupt(), 2),
                                              (Interrupted("terminated (SIGTERM)", 15), 15)])
def test_the_job_in_flight_is_neither_stored_nor_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: BaseException, signum: int
) -> None:
    suite = parse_suite(tomllib.loads(SUITE), path=Path("three.toml"), source=SUITE)
    real = bench.runner.get_kind

    def get_kind(name: str):
        kind = real(name)

        def run(ctx, **params):
            if params.get("eps") == 0.3:  # the second job: stopped inside it
                kind(ctx, **params)
                raise stop
            return kind(ctx, **params)
        return run

    monkeypatch.setattr(bench.runner, "get_kind", get_kind)
    monkeypatch.setattr(bench.runner, "tqdm", Bar)
    Bar.closed = False
    run = tmp_path / "run"
    with pytest.raises(Interrupted) as caught:
        bench.runner.run_suite(suite, run, device="cpu")
    assert caught.value.signum == signum
    assert str(caught.value).startswith(f"interrupted by {signal.Signals(signum).name} after "
                                        "1 of 3 jobs: 1 kept in ")
    assert Bar.closed
    jobs = load_jobs(run)
    assert list(jobs["job_id"]) == [suite.jobs[0].id]  # the second is not there, not failed
    assert set(load(run)["job_id"]) == {suite.jobs[0].id}
    meta = load_meta(run)
    assert meta["finished_at"] == "" and meta["wall_seconds"] > 0
    # the lock went with the run: the same call resumes at once
    monkeypatch.setattr(bench.runner, "get_kind", real)
    summary = bench.runner.run_suite(suite, run, device="cpu")
    assert summary.skipped == [suite.jobs[0].id] and len(summary.done) == 2
    assert load_meta(run)["wall_seconds"] > meta["wall_seconds"]
