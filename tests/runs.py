"""Runs the tests of several kinds share: a suite run for real with its report built, and a
run written straight into a store from synthetic job outputs (to render sections from
results no model could easily give)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.runner import run_suite
from bench.spec import Job, JobOutput
from bench.store import PROVENANCE as PROVENANCE_COLUMNS
from bench.store import Store, db_path, load, load_artifact, load_jobs
from bench.suite import parse_suite
from reports import build_report

PROVENANCE = {"device": "cpu", "torch_version": "x", "git_commit": "abc",
              "finished_at": "2025-01-01T00:00:00+00:00"}


def run_with_report(raw: dict[str, Any], root: Path) -> Path:
    """Run the suite ``raw`` (as a TOML file would give it, paths relative to ``root``) on
    the CPU into ``root / "run"``, fail on any failed job, build the report; the run dir."""
    suite = parse_suite(raw, path=root / f"{raw['name']}.toml")
    out = root / "run"
    summary = run_suite(suite, out, device="cpu", progress=False)
    assert not summary.failed, load_jobs(out)[["label", "status", "error"]].to_string()
    build_report(out)
    return out


def write_synthetic_run(run: Path, outputs: list[tuple[Job, JobOutput]]) -> Path:
    """Store ``outputs`` as the jobs of a finished run and build its report; the page."""
    with Store(run) as store:
        store.set_meta({"suite": "synthetic", "description": "", "suite_source": "",
                        "job_ids": [j.id for j, _ in outputs],
                        "job_kinds": {j.id: j.kind for j, _ in outputs},
                        "started_at": PROVENANCE["finished_at"], "finished_at": "",
                        "device": "cpu"})
        for job, output in outputs:
            store.write_job(job, output, seconds=1.0, provenance=PROVENANCE)
    return build_report(run)


#: metrics that measure time or memory: they differ between two runs of the same jobs
_COST = ("seconds", "memory", "peak", "mib", "bytes")


def stored_values(run: Path) -> pd.DataFrame:
    """A run's stored measurements without timings, memory and provenance, in a fixed order:
    two runs of the same suite with the same seeds must give equal frames."""
    df = load(run)
    df = df[~df["metric"].str.contains("|".join(_COST), case=False)]
    df = df.drop(columns=[c for c in PROVENANCE_COLUMNS if c in df.columns])
    keys = [c for c in df.columns if c != "value"]
    return df.sort_values(keys, na_position="first").reset_index(drop=True)


def stored_artifacts(run: Path) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Every stored artifact (images, probabilities) of a run by (job id, name)."""
    with closing(sqlite3.connect(db_path(run))) as conn:
        names = conn.execute("SELECT job_id, name FROM artifacts").fetchall()
    return {(job, name): load_artifact(run, job, name) for job, name in names}
