"""The runner: executes a suite's jobs in process and stores each as it finishes.

A run resumes: jobs already ``done`` in the store are skipped, failed ones are tried again.
A job that raises is recorded as failed with its error, and the run goes on.

One process at a time writes a run directory (``bench.lock``). Ctrl-C or SIGTERM stops the run
between or inside jobs: the job in flight is neither stored nor recorded as failed (its
transaction never committed), and ``zoo.errors.Interrupted`` says what was kept and that the
same command resumes.
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from bench import env
from bench.context import RunContext, resolve_device
from bench.kind import get_kind
from bench.lock import hold
from bench.preflight import preflight
from bench.schema import run_args
from bench.spec import Job
from bench.store import Store
from bench.suite import Suite
from zoo.errors import Interrupted

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    run_dir: Path
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # job id -> error
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_suite(
    suite: Suite, run_dir: str | Path, *, device: str = "auto", progress: bool = True
) -> RunSummary:
    """Run every job of ``suite`` not yet done in ``run_dir``; returns what happened."""
    run_dir = Path(run_dir)
    ctx = RunContext(resolve_device(device), definitions=suite.definitions, seed=suite.seed)
    summary = RunSummary(run_dir)
    start = time.perf_counter()
    try:
        audited = preflight(suite, ctx)  # a broken model or folder stops here, before any job
    except (KeyboardInterrupt, Interrupted) as err:
        raise Interrupted(f"interrupted by {_signal_name(err)} while checking the suite, "
                          "before any job ran; run the same command again to start",
                          _signum(err)) from None
    # the lock before the store is read or written: a second process is refused untouched
    with hold(run_dir):
        provenance = {
            "device": str(ctx.device),
            "torch_version": torch.__version__,
            "git_commit": env.git_commit(),
        }
        # the writer completes a store a kill left half made (empty, or some tables missing)
        with Store(run_dir) as store:
            earlier = float(store.meta("wall_seconds", 0.0))  # type: ignore[arg-type]
            try:
                _run_jobs(suite, ctx, store, summary, audited, provenance, progress)
            except (KeyboardInterrupt, Interrupted) as err:
                # finished_at stays empty: this attempt did not finish
                summary.seconds = time.perf_counter() - start
                store.set_meta({"wall_seconds": earlier + summary.seconds})
                raise _stopped(err, suite, store) from None
            summary.seconds = time.perf_counter() - start
            store.set_meta({"finished_at": env.now(), "wall_seconds": earlier + summary.seconds})
    return summary


def _run_jobs(
    suite: Suite, ctx: RunContext, store: Store, summary: RunSummary, audited: dict[str, object],
    provenance: dict[str, str], progress: bool,
) -> None:
    store.set_meta({
        "suite": suite.name,
        "description": suite.description,
        "seed": suite.seed,
        "suite_path": str(suite.path),
        "suite_source": suite.source,
        "job_ids": [job.id for job in suite.jobs],
        "job_kinds": {job.id: job.kind for job in suite.jobs},
        "device_name": env.device_name(ctx.device),
        "started_at": env.now(),
        "finished_at": "",  # until this attempt finishes; an interrupted one has none
        **audited,
        **provenance,
    })
    done = store.done_ids()
    todo = [job for job in suite.jobs if job.id not in done]
    summary.skipped = [job.id for job in suite.jobs if job.id in done]
    if summary.skipped:
        log.info("resuming %s: %d of %d jobs already done", store.path.parent,
                 len(summary.skipped), len(suite.jobs))
    bar = tqdm(todo, desc=suite.name, unit="job", disable=not progress)
    try:
        for job in bar:
            bar.set_postfix_str(job.label)
            ctx.on_step = lambda step, label=job.label: bar.set_postfix_str(f"{label} · {step}")
            error = _run_one(job, ctx, store, provenance)
            if error is None:
                summary.done.append(job.id)
            else:
                summary.failed[job.id] = error
    finally:
        ctx.on_step = None
        bar.close()


def _stopped(err: BaseException, suite: Suite, store: Store) -> Interrupted:
    """The ``Interrupted`` to raise for a run stopped by ``err``: what was kept, how to go on."""
    # counted from the store, which is what a resumed run will skip
    kept = len(store.done_ids() & {job.id for job in suite.jobs})
    total = len(suite.jobs)
    return Interrupted(
        f"interrupted by {_signal_name(err)} after {kept} of {total} jobs: {kept} kept in "
        f"{store.path}, {total - kept} left; run the same command again to resume", _signum(err))


def _signum(err: BaseException) -> int:
    return err.signum if isinstance(err, Interrupted) else int(signal.SIGINT)


def _signal_name(err: BaseException) -> str:
    try:
        return signal.Signals(_signum(err)).name
    except ValueError:
        return f"signal {_signum(err)}"


def _run_one(job: Job, ctx: RunContext, store: Store, provenance: dict[str, str]) -> str | None:
    """Run and store one job; returns its error message, or ``None`` when it succeeded."""
    start = time.perf_counter()
    try:
        kind = get_kind(job.kind)
        output = kind(ctx, **run_args(kind, job.params))
        ctx.sync()
        seconds = time.perf_counter() - start
        # rows that cannot be stored fail the job too; the transaction leaves nothing behind
        store.write_job(job, output, seconds=seconds,
                        provenance={**provenance, "finished_at": env.now()})
    except Exception as err:  # a broken job must not end the run; it is recorded instead
        seconds = time.perf_counter() - start
        message = f"{type(err).__name__}: {err}"
        log.error("job %s (%s) failed: %s", job.id, job.label, message)
        store.write_failure(job, message, seconds=seconds, finished_at=env.now(),
                            traceback=traceback.format_exc())
        return message
    return None
