"""``run_suite``: one call from a suite to its results, for scripts and notebooks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bench.definitions import toml_suite
from bench.runner import run_suite as run_jobs
from bench.store import load
from bench.suite import Suite, SuiteError, load_suite, parse_suite
from reports import build_report
from zoo.errors import UserError


def run_suite(
    suite: str | Path | Mapping[str, Any] | Suite,
    run_dir: str | Path,
    *,
    device: str = "auto",
    report: bool = True,
    threads: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run ``suite`` into ``run_dir`` (resuming what an earlier call finished) and return
    every stored measurement of it, one row per measurement (``bench.store.load``).

    ``suite``: a shipped suite's name, a TOML path, a loaded ``Suite``, or a dict shaped like
    the TOML (``{"name": ..., "task": [{"kind": ..., ...}]}``; relative paths in its
    ``[models.*]`` / ``[data.*]`` tables start at the working directory). Raises
    ``SuiteError`` for a suite that cannot run, before any job. Failed jobs are recorded in
    the store (``bench.store.load_jobs``) and leave no rows. ``threads``: PyTorch's CPU
    threads for the run, restored afterwards.

    One process at a time runs in ``run_dir``: while another holds it, this raises
    ``zoo.errors.UserError`` naming that process, before anything is written. Ctrl-C (or
    SIGTERM where a handler raises it) raises ``zoo.errors.Interrupted``, a
    ``BaseException`` whose message says how many jobs were kept: the job in flight is
    dropped, and the same call resumes after the last stored job.
    """
    if isinstance(suite, Mapping):
        raw = dict(suite)
        suite = parse_suite(raw, path=Path.cwd() / "suite.toml", source=toml_suite(raw))
    elif not isinstance(suite, Suite):
        suite = load_suite(suite)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise UserError(f"threads must be a positive integer, got {threads!r}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        run_jobs(suite, run_dir, device=device, progress=progress)
    finally:
        torch.set_num_threads(before)
    if report:
        build_report(run_dir)
    df = load(run_dir)
    return df[df["job_id"].isin([job.id for job in suite.jobs])].reset_index(drop=True)


__all__ = ["SuiteError", "run_suite"]
