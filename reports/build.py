"""``build_report(run_dir)``: the run's store -> one self-contained ``RUN_DIR/index.html``.

The page is put together here: the run's facts, the audit card, then each registered job
kind's section (``bench.kind.Section``: its rows in, its template fragment out) in
registration order, then the timings and the suite file. It renders what ``bench`` stored
and never runs a model. Figures are embedded as base64 PNG, CSS is inline, and jinja2
escapes every string that came from a suite or a store, so a suite description cannot
inject markup.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import ChoiceLoader, DictLoader, Environment, PackageLoader, select_autoescape

import bench.kinds  # noqa: F401  (registers the built-in job kinds)
from bench.kind import KINDS, ArtifactLoader
from bench.store import load, load_artifact, load_jobs, load_meta, load_perf
from reports import card
from reports.timing import timing_section

log = logging.getLogger(__name__)
FILENAME = "index.html"


def _environment() -> Environment:
    fragments = {_fragment(k.name): k.section.template for k in KINDS if k.section}
    env = Environment(
        loader=ChoiceLoader([PackageLoader("reports", "templates"), DictLoader(fragments)]),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    return env


def _fragment(kind: str) -> str:
    return f"kinds/{kind}.html"


def kind_sections(df: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Every registered kind's section, in registration order: its name (the anchor), title,
    link text, what its ``build`` made of its rows (falsy: nothing to show) and template."""
    out = []
    for kind in KINDS:
        if kind.section is None:
            continue
        rows = df[df["kind"] == kind.name]
        out.append({"name": kind.name, "title": kind.section.title,
                    "nav": kind.section.nav or kind.section.title,
                    "data": kind.section.build(rows, artifact),
                    "template": _fragment(kind.name)})
    return out


def _pct(value: object, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    return f"{100 * float(value):.{digits}f}%"


def _num(value: object, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:.{digits}g}"


def _when(iso: str) -> str:
    """``2025-01-02T03:04:05+00:00`` -> ``2025-01-02 03:04:05`` (the page says UTC)."""
    return iso.replace("T", " ").removesuffix("+00:00")


def header(meta: dict[str, Any], jobs: pd.DataFrame, suite_ids: list[str]) -> dict[str, Any]:
    """Run facts and job counts; jobs of an earlier version of the suite are not counted."""
    current = jobs[jobs["job_id"].isin(suite_ids)]
    failed = current[current["status"] == "failed"]
    done = int((current["status"] == "done").sum())
    commit = meta.get("git_commit") or ""
    kinds = meta.get("job_kinds") or dict(zip(jobs["job_id"], jobs["kind"], strict=True))
    return {
        "suite": meta.get("suite", "?"),
        "description": meta.get("description", ""),
        "started_at": _when(meta.get("started_at", "")),
        "finished_at": _when(meta.get("finished_at", ""))[11:],
        "generated_at": _when(dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()),
        "kinds": sorted({kinds[i] for i in suite_ids if i in kinds}),
        "device": meta.get("device", ""),
        "device_name": meta.get("device_name", ""),
        "torch_version": meta.get("torch_version", ""),
        "git_commit": commit[:12] or "unknown (no commit yet, or not a git checkout)",
        "total": len(suite_ids),
        "done": done,
        "failed": [
            {"job_id": r["job_id"], "label": r["label"], "error": r["error"] or ""}
            for _, r in failed.iterrows()
        ],
        "pending": len(suite_ids) - len(current),
        "stale": int((~jobs["job_id"].isin(suite_ids)).sum()),
        "seconds": float(current["seconds"].sum()),
    }


def build_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/index.html`` from ``run_dir/results.sqlite``; returns its path."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    jobs = load_jobs(run_dir)
    suite_ids = list(meta.get("job_ids") or jobs["job_id"])
    df = load(run_dir)
    df = df[df["job_id"].isin(suite_ids)]
    perf = load_perf(run_dir)
    if not meta and perf is not None:
        # a directory that only `auditbench perf` wrote: no suite, no jobs
        meta = {"suite": "perf", "description": "timings only (auditbench perf)"}

    def artifact(job_id: str, name: str) -> dict[str, Any]:
        return load_artifact(run_dir, job_id, name)

    context = {
        "run": header(meta, jobs, suite_ids),
        "card": card.card_context(card.build_card(meta, jobs, df, artifact)),
        "sections": kind_sections(df, artifact),
        "timing": timing_section(perf),
        "run_dir": str(run_dir),
        # a run of `auditbench run --model`: perf times its own model through its suite file
        "perf_suite": str(run_dir / "audit.toml") if (run_dir / "audit.toml").is_file() else "",
        "suite_source": meta.get("suite_source", ""),
    }
    html = _environment().get_template("index.html").render(**context)
    path = run_dir / FILENAME
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a page
    log.info("report written to %s", path)
    return path
