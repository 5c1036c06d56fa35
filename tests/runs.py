"""Runs the tests of several kinds share: a suite run for real with its report built, and a
run written straight into a store from synthetic job outputs (to render sections from
results no model could easily give)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.runner import run_suite
from bench.spec import Job, JobOutput
from bench.store import Store, load_jobs
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
