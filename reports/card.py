"""The audit card: one table per run that an auditor can paste into a model card.

Per model: what it is (source, size, weights hash), what it was audited on, clean accuracy,
robust accuracy at the threat model's standard eps (per example, the worst case over every
attack run at that eps), the attack-evaluation sanity checks, attribution quality and cost.

This module computes the card: ``audit_card(run_dir)`` returns plain JSON-serialisable data
(the worst case over attacks is ``reports.card_robust``).
``reports.card_format`` presents it (``card_markdown``, ``card_json``, and ``card_rows`` for
the HTML template); those names are re-exported here, and ``card_text`` joins the two. A run
that lacks any piece (old runs without ``meta["models"]``, toy-only suites) still gets a
card: the missing fields are ``None`` and show as "–".
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.kinds.agreement import KIND as AGREEMENT
from bench.kinds.attribution import KIND as ATTRIBUTION
from bench.kinds.attribution_calls import LEFT_OUT, MAP_LAYER
from bench.kinds.minimal import KIND as MINIMAL
from bench.kinds.quality import KIND as QUALITY
from bench.kinds.quality.job import (
    DELETION_AUC,
    INSERTION_AUC,
    MASS_INSIDE_MASK,
    POINTING_GAME,
    RANDOMISATION_PASSED,
    SEGMENTATION_IOU,
    UNIFORM_BASELINE,
)
from bench.kinds.robustness import KIND as ROBUSTNESS
from bench.kinds.robustness.job import CLEAN_ACCURACY
from bench.kinds.sanity import KIND as SANITY
from bench.kinds.sanity.job import PASSED
from bench.store import load, load_artifact, load_jobs, load_meta
from reports.card_common import (
    EPS_TOL,
    NORM_ORDER,
    ArtifactLoader,
    as_float,
    as_int,
    column,
    format_eps,
    is_number,
    norm_key,
)
from reports.card_format import (
    DASH,
    card_context,
    card_header,
    card_json,
    card_markdown,
    card_rows,
)
from reports.card_robust import robust_entry

__all__ = [
    "BASELINE",
    "DASH",
    "EPS_TOL",
    "FORMATS",
    "NORM_ORDER",
    "QUALITY_METRICS",
    "ArtifactLoader",
    "audit_card",
    "build_card",
    "card_context",
    "card_header",
    "card_json",
    "card_markdown",
    "card_rows",
    "card_text",
    "format_eps",
]

QUALITY_METRICS = (DELETION_AUC, INSERTION_AUC, MASS_INSIDE_MASK, POINTING_GAME,
                   SEGMENTATION_IOU)
BASELINE = UNIFORM_BASELINE
#: the kinds whose jobs may leave an attribution method out
MAP_KINDS = (ATTRIBUTION.name, AGREEMENT.name, QUALITY.name)
FORMATS = ("md", "json")


def audit_card(run_dir: str | Path) -> dict[str, Any]:
    """The card of the run in ``run_dir``: ``{"run": {...}, "models": [{...}, ...]}``."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    jobs = load_jobs(run_dir)
    df = load(run_dir)
    if meta.get("job_ids"):
        df = df[df["job_id"].isin(meta["job_ids"])]

    def artifact(job_id: str, name: str) -> dict[str, np.ndarray]:
        return load_artifact(run_dir, job_id, name)

    return build_card(meta, jobs, df, artifact)


def build_card(
    meta: dict[str, Any], jobs: pd.DataFrame, df: pd.DataFrame, artifact: ArtifactLoader
) -> dict[str, Any]:
    """``audit_card`` from what is already loaded: ``df`` holds the current suite's rows."""
    suite_ids = meta.get("job_ids")
    current = jobs[jobs["job_id"].isin(suite_ids)] if suite_ids else jobs
    models_meta = meta.get("models") or {}
    datasets_meta = meta.get("datasets") or {}
    keys = list(models_meta)
    for config in current["config"]:
        key = config.get("model") if isinstance(config, dict) else None
        if isinstance(key, str) and key not in keys:
            keys.append(key)
    seed = suite_seed(meta)
    models = [
        _model_entry(key, models_meta.get(key), datasets_meta, current, df, artifact, seed)
        for key in keys
    ]
    return _plain({"run": _run_entry(meta, current), "models": models})


def suite_seed(meta: dict[str, Any]) -> int | None:
    """The suite's seed, which random weights are drawn from: the meta's ``seed`` where the run
    records it, else the ``seed`` of the suite text it ran (0 when the text sets none); ``None``
    when the run kept no suite text."""
    seed = meta.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    source = meta.get("suite_source")
    if not isinstance(source, str) or not source.strip():
        return None
    try:
        seed = tomllib.loads(source).get("seed", 0)
    except tomllib.TOMLDecodeError:
        return None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _run_entry(meta: dict[str, Any], current: pd.DataFrame) -> dict[str, Any]:
    started, finished = meta.get("started_at") or "", meta.get("finished_at") or ""
    # every attempt's wall time, summed by the runner; a resumed run's last attempt alone
    # may have run no job at all
    wall = as_float(meta.get("wall_seconds"))
    source = "clock, all attempts"
    if wall is None:
        wall, source = _wall_seconds(started, finished), "clock"
    if wall is None:
        wall, source = _sum(current["seconds"]), "sum of job times"
    status = current["status"] if "status" in current else pd.Series(dtype=object)
    return {
        "suite": meta.get("suite"),
        "device": meta.get("device"),
        "device_name": meta.get("device_name"),
        "torch_version": meta.get("torch_version"),
        "git_commit": (meta.get("git_commit") or "")[:12] or None,
        "started_at": started or None,
        "finished_at": finished or None,
        "wall_seconds": wall,
        "wall_source": source,
        "jobs_done": int((status == "done").sum()),
        "jobs_failed": int((status == "failed").sum()),
    }


def _wall_seconds(started: str, finished: str) -> float | None:
    try:
        seconds = (dt.datetime.fromisoformat(finished)
                   - dt.datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):  # empty (interrupted run), unparsable, naive vs aware
        return None
    return seconds if seconds >= 0 else None


def _model_entry(
    key: str, info: dict[str, Any] | None, datasets_meta: dict[str, Any],
    current: pd.DataFrame, df: pd.DataFrame, artifact: ArtifactLoader, seed: int | None = None,
) -> dict[str, Any]:
    info = info or {}
    rows = df[column(df, "model") == key]
    mine = np.array([isinstance(c, dict) and c.get("model") == key for c in current["config"]],
                    dtype=bool)  # an empty object-dtype mask would select columns instead
    model_jobs = current[mine]
    labels = column(rows, "model_label").dropna()
    hashes = column(rows, "weights_sha256").dropna()
    hashes = hashes[hashes != ""]
    dataset = info.get("dataset") or _first(
        c.get("dataset") for c in model_jobs["config"] if isinstance(c.get("dataset"), str))
    # minimal-perturbation jobs store their curve and per-example outcome in the same form
    rob = rows[rows["kind"].isin([ROBUSTNESS.name, MINIMAL.name])]
    threat = info.get("threat") or {}
    robust = [robust_entry(rob, norm, float(eps), artifact)
              for norm, eps in _ordered(threat) if is_number(eps)]
    sanity = _sanity_entry(rows[rows["kind"] == SANITY.name])
    for r in robust:
        if sanity and sanity["failed"] and (r["white_box"] is not None
                                            or r["gradient_free_attacks"]):
            # a white-box figure is no evidence of robustness: the card strikes it out (or,
            # where the gradient attacks could not run at all, says why there is none)
            r["masked"] = {"failed": sanity["failed"]}
    entry = {
        "key": key,
        "label": info.get("label") or (str(labels.iloc[0]) if len(labels) else None),
        "source": info.get("source"),
        "parameters": info.get("parameters"),
        "input_size": list(info["input_size"]) if info.get("input_size") else None,
        "num_classes": info.get("num_classes"),
        "weights": info.get("weights"),
        "weights_sha256": info.get("weights_sha256") or (
            str(hashes.iloc[0]) if len(hashes) else None),
        "random_weights": info.get("random_weights"),
        # random weights are drawn from the suite's seed and the model's name
        "weights_seed": seed if info.get("random_weights") else None,
        "outputs_probabilities": info.get("outputs_probabilities"),
        "error": info.get("error") or None,
        "threat": {norm: float(eps) for norm, eps in _ordered(threat) if is_number(eps)},
        "threat_source": info.get("threat_source"),
        "data": _data_entry(dataset, datasets_meta.get(dataset) if dataset else None),
        "clean": _clean_entry(rob),
        "robust": robust,
        "robust_note": None if robust else "no standard eps recorded",
        "sanity": sanity,
        "attribution": _attribution_entries(rows),
        "mask_baseline": _mask_baseline(rows[rows["kind"] == QUALITY.name]),
        "cost": {
            "seconds": _sum(model_jobs.loc[model_jobs["status"] == "done", "seconds"]),
            "jobs_done": int((model_jobs["status"] == "done").sum()),
            "jobs_failed": int((model_jobs["status"] == "failed").sum()),
        },
    }
    entry["described"] = bool(info)  # False: the run's meta says nothing about this model
    entry["weights_text"] = _weights_text(entry, bool(info))
    entry["warnings"] = _warnings(entry)
    return entry


def _data_entry(key: str | None, info: dict[str, Any] | None) -> dict[str, Any]:
    info = info or {}
    skipped = [[str(f), str(r)] for f, r in (info.get("skipped") or [])]
    return {
        "key": key,
        "source": info.get("source"),
        "images": info.get("images"),
        "classes": info.get("classes"),
        "skipped": len(skipped) if info else None,
        "skipped_files": skipped,
        "notes": [str(n) for n in (info.get("notes") or [])],
        "per_class": as_int(info.get("per_class")),
        "not_sampled": as_int(info.get("not_sampled")) or 0,
    }


def _weights_text(entry: dict[str, Any], known: bool) -> str | None:
    """The weights cell: the hash of the weights the model ran with, and where they came from
    (a file, or random weights and the seed they were drawn from)."""
    sha, path = entry["weights_sha256"], entry["weights"]
    if entry["random_weights"]:
        text = "random weights"
        if entry["weights_seed"] is not None and sha:  # older runs kept neither
            text += f", seeded from suite seed {entry['weights_seed']}"
        return text + (f" (sha256 {sha[:12]})" if sha else "")
    where = None
    if path:
        shipped = Path(path).parts[-3:-1] == ("zoo", "weights")
        where = "shipped" if shipped else Path(path).name
    if sha:
        return f"sha256 {sha[:12]}" + (f" ({where})" if where else "")
    if where:
        return f"{where} (no hash)"
    if entry["error"] or not known:
        return None
    return "none"  # loaded, yet neither a weights file nor random weights: hand-set weights


def _warnings(entry: dict[str, Any]) -> list[str]:
    out = []
    if entry["error"]:
        out.append(f"could not be loaded: {entry['error']}")
    if entry["random_weights"]:
        out.append("random weights: results say nothing about a trained model")
    if entry["outputs_probabilities"]:
        out.append("outputs probabilities: gradient attacks on softmax outputs are weaker, "
                   "robust accuracy may be overstated")
    out += [f"data: {note}" for note in entry["data"]["notes"]]
    return out


def _clean_entry(rob: pd.DataFrame) -> dict[str, Any] | None:
    """Clean accuracy of the robustness (or minimal-perturbation) job with the largest
    sample."""
    clean = rob[rob["metric"] == CLEAN_ACCURACY].dropna(subset=["value"])
    if clean.empty:
        return None
    n = pd.to_numeric(column(clean, "n"), errors="coerce").fillna(-1)
    best = clean.loc[n.idxmax()]  # first of the largest n
    return {"value": float(best["value"]), "n": as_int(best.get("n"))}


def _sanity_entry(sanity: pd.DataFrame) -> dict[str, Any] | None:
    passed = sanity[sanity["metric"] == PASSED]
    if passed.empty:
        return None
    names = column(passed, "check").fillna("?").astype(str)
    ok = passed["value"].fillna(0).astype(float) > 0.5
    failed = list(dict.fromkeys(names[~ok]))
    return {"passed": int(ok.sum()), "total": len(passed), "failed": failed}


def _attribution_entries(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Per attribution method: its quality scores, the layer its map was read from (Grad-CAM)
    and, for a method some map job left out, the reason."""
    out: dict[str, dict[str, Any]] = {}

    def entry_of(method: str) -> dict[str, Any]:
        return out.setdefault(method, {
            "method": method, "randomisation_passed": None,
            **{m: None for m in QUALITY_METRICS}, "layer": None, "left_out": None})

    quality = rows[rows["kind"] == QUALITY.name]
    methods = column(quality, "method")
    layers = column(quality, MAP_LAYER)
    for i, row in quality[methods.notna() & (methods != BASELINE)].iterrows():
        if row["metric"] == LEFT_OUT:
            continue
        entry = entry_of(str(row["method"]))
        value = as_float(row["value"])
        if row["metric"] == RANDOMISATION_PASSED and entry["randomisation_passed"] is None:
            entry["randomisation_passed"] = None if value is None else value > 0.5
        elif row["metric"] in QUALITY_METRICS and entry[row["metric"]] is None:
            entry[row["metric"]] = value
        if entry["layer"] is None and isinstance(layers[i], str):
            entry["layer"] = layers[i]
    maps = rows[rows["kind"].isin(MAP_KINDS)]
    reasons = column(maps, "reason")
    for i, row in maps[maps["metric"] == LEFT_OUT].iterrows():
        entry = entry_of(str(row["method"]))
        if entry["left_out"] is None:
            entry["left_out"] = str(reasons[i]) if isinstance(reasons[i], str) else ""
    return list(out.values())


def _mask_baseline(quality: pd.DataFrame) -> float | None:
    base = quality[(column(quality, "method") == BASELINE)
                   & (quality["metric"] == MASS_INSIDE_MASK)]
    return as_float(base["value"].iloc[0]) if len(base) else None


def card_text(run_dir: str | Path, fmt: str) -> str:
    """The card of ``run_dir`` as ``fmt``: ``"md"`` (markdown table) or ``"json"``."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    card = audit_card(run_dir)
    return card_markdown(card) if fmt == "md" else card_json(card)


# --- small helpers -----------------------------------------------------------------------------

def _ordered(threat: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(threat.items(), key=lambda kv: norm_key(kv[0]))


def _first(values: Iterable[Any]) -> Any:
    return next(iter(values), None)


def _sum(values: pd.Series) -> float:
    return float(pd.to_numeric(values, errors="coerce").fillna(0).sum())


def _plain(obj: Any) -> Any:
    """Numpy scalars to Python, NaN and inf to ``None``, tuples to lists: JSON-safe."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is pd.NA:
        return None
    return obj
