"""The results store: tidy rows with a column per hyperparameter, atomic job writes,
failed jobs recorded, resume without duplicates, also after a crash mid-run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.context import RunContext
from bench.kind import KINDS, register_kind
from bench.runner import run_suite
from bench.spec import Job, JobOutput
from bench.store import Store, load, load_artifact, load_jobs, load_meta
from bench.suite import parse_suite

PROVENANCE = {"device": "cpu", "torch_version": "x", "git_commit": "abc",
              "finished_at": "2025-01-01T00:00:00+00:00"}


class Crash(BaseException):
    """Stands in for a kill mid-run: not an Exception, so the runner does not catch it."""


CALLS: list[int] = []
BEHAVIOUR: dict[int, type[BaseException]] = {}


def fake_run(ctx: RunContext, *, steps: int) -> JobOutput:
    CALLS.append(steps)
    if steps in BEHAVIOUR:
        raise BEHAVIOUR[steps](f"job with steps={steps} broke")
    rows = [{"metric": "m", "value": steps * k, "k": k} for k in range(3)]
    return JobOutput(rows, {"arr": {"a": np.arange(steps)}})


@pytest.fixture
def fake_kind() -> Iterator[None]:
    register_kind("fake", run=fake_run, expand=("steps",))
    CALLS.clear()
    BEHAVIOUR.clear()
    try:
        yield
    finally:
        KINDS.remove("fake")


def fake_suite(steps: list[int]) -> Any:
    raw = {"name": "fake", "task": [{"kind": "fake", "steps": steps}]}
    return parse_suite(raw, path=Path("fake.toml"))


def count_rows(run_dir: Path) -> dict[str, int]:
    return load(run_dir).groupby("job_id").size().to_dict()


def test_rows_get_a_column_per_key_and_provenance(tmp_path: Path) -> None:
    job = Job("fake", {"steps": 2, "norm": "linf", "grid": [1, 2]})
    out = JobOutput([{"metric": "acc", "value": 0.5, "eps": 0.1},
                     {"metric": "acc", "value": 0.25, "eps": 0.2, "restarts": 3}],
                    {"imgs": {"x": np.ones((2, 3), dtype=np.float32), "names": np.array(["a"])}})
    with Store(tmp_path) as store:
        store.write_job(job, out, seconds=1.5, provenance=PROVENANCE)
    df = load(tmp_path)
    assert list(df.columns[:8]) == ["job_id", "kind", "model", "model_label", "dataset",
                                    "method", "metric", "value"]
    assert list(df.columns[-5:]) == ["device", "torch_version", "git_commit", "seconds",
                                     "finished_at"]
    assert df["steps"].tolist() == [2, 2] and df["norm"].tolist() == ["linf", "linf"]
    assert df["eps"].tolist() == [0.1, 0.2]
    assert df["restarts"].isna().tolist() == [True, False]
    assert "grid" not in df  # lists live in the job's config, not in every row
    assert set(df["job_id"]) == {job.id} and (df["seconds"] == 1.5).all()
    art = load_artifact(tmp_path, job.id, "imgs")
    np.testing.assert_array_equal(art["x"], np.ones((2, 3)))
    assert art["names"].tolist() == ["a"]
    jobs = load_jobs(tmp_path)
    assert jobs["status"].tolist() == ["done"] and jobs["config"][0]["grid"] == [1, 2]


def test_a_write_that_fails_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = Job("fake", {"steps": 1})
    out = JobOutput([{"metric": "m", "value": 1.0, "brand_new_column": 1}],
                    {"a": {"x": np.ones(2)}})

    def broken(*args: object) -> None:
        raise OSError("disk full")

    with Store(tmp_path) as store:
        monkeypatch.setattr(Store, "_insert_artifacts", staticmethod(broken))
        with pytest.raises(OSError):
            store.write_job(job, out, seconds=1.0, provenance=PROVENANCE)
        assert store.done_ids() == set()
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM results").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (0,)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(results)")}
    assert "brand_new_column" not in columns  # the ALTER TABLE rolled back too


def test_a_failing_job_is_recorded_and_the_run_goes_on(tmp_path: Path, fake_kind: None) -> None:
    BEHAVIOUR[2] = ValueError
    summary = run_suite(fake_suite([1, 2, 3]), tmp_path, device="cpu", progress=False)
    assert len(summary.done) == 2 and len(summary.failed) == 1
    jobs = load_jobs(tmp_path).set_index("status")
    assert "ValueError: job with steps=2 broke" in jobs.loc["failed", "error"]
    assert "Traceback" in jobs.loc["failed", "traceback"]
    assert sorted(load(tmp_path)["steps"].unique()) == [1, 3]  # no rows for the failure

    BEHAVIOUR.clear()
    CALLS.clear()
    again = run_suite(fake_suite([1, 2, 3]), tmp_path, device="cpu", progress=False)
    assert CALLS == [2]  # only the failed job is retried
    assert len(again.skipped) == 2 and len(again.done) == 1 and not again.failed
    assert set(load_jobs(tmp_path)["status"]) == {"done"}
    assert sorted(count_rows(tmp_path).values()) == [3, 3, 3]


def test_a_crash_mid_run_resumes_without_duplicates(tmp_path: Path, fake_kind: None) -> None:
    steps = [1, 2, 3, 4]
    reference = tmp_path / "reference"
    run_suite(fake_suite(steps), reference, device="cpu", progress=False)

    crashed = tmp_path / "crashed"
    BEHAVIOUR[3] = Crash
    with pytest.raises(Crash):
        run_suite(fake_suite(steps), crashed, device="cpu", progress=False)
    stored = load_jobs(crashed)
    assert len(stored) == 2 and set(stored["status"]) == {"done"}  # jobs 1 and 2 only

    BEHAVIOUR.clear()
    CALLS.clear()
    resumed = run_suite(fake_suite(steps), crashed, device="cpu", progress=False)
    assert CALLS == [3, 4] and len(resumed.skipped) == 2
    assert count_rows(crashed) == count_rows(reference)
    cols = ["job_id", "metric", "value", "k", "steps"]
    a, b = load(reference)[cols], load(crashed)[cols]
    assert a.sort_values(cols).values.tolist() == b.sort_values(cols).values.tolist()

    CALLS.clear()
    run_suite(fake_suite(steps), crashed, device="cpu", progress=False)
    assert CALLS == [] and count_rows(crashed) == count_rows(reference)


@pytest.mark.parametrize(("content", "fragment"), [
    (bytes(range(256)) * 16, "not an auditbench results store, or is damaged"),
    (b"", r"is empty \(0 bytes\)"),
])
def test_reading_a_file_that_is_no_store_is_a_store_error(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    from bench.store import StoreError, check_store, load_meta

    (tmp_path / "results.sqlite").write_bytes(content)
    for read in (check_store, load, load_jobs, load_meta):
        with pytest.raises(StoreError, match=fragment):
            read(tmp_path)


def test_a_foreign_database_is_neither_read_nor_written(tmp_path: Path) -> None:
    from bench.store import MissingStoreError, StoreError, check_store

    path = tmp_path / "results.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (name TEXT)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="it has no 'jobs' table"):
        load(tmp_path)
    with pytest.raises(StoreError, match="it has a table 'photos'"):
        Store(tmp_path)
    assert path.read_bytes() == before
    with pytest.raises(MissingStoreError) as missing:
        check_store(tmp_path / "elsewhere")
    assert isinstance(missing.value, FileNotFoundError)


def test_an_empty_store_file_is_completed_by_the_writer(tmp_path: Path) -> None:
    """A run killed between creating the file and its tables resumes into it."""
    from bench.store import check_store

    (tmp_path / "results.sqlite").write_bytes(b"")
    with Store(tmp_path) as store:
        store.set_meta({"suite": "x"})
    assert check_store(tmp_path) == tmp_path / "results.sqlite"


def test_a_run_completes_a_store_a_kill_left_half_made(tmp_path: Path) -> None:
    # a SIGKILL while the store was being created leaves a 0-byte file: resuming completes
    # it (the reader alone would refuse it as not a store), and the meta records the seed
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.sqlite").write_bytes(b"")
    suite = parse_suite({"name": "t", "seed": 3, "task": [{"kind": "toy", "eps": 0.5}]},
                        path=tmp_path / "t.toml")
    summary = run_suite(suite, run, device="cpu", progress=False)
    assert len(summary.done) == 1 and not summary.failed
    assert load_meta(run)["seed"] == 3 and load_meta(run)["wall_seconds"] > 0
