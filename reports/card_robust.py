"""Robust accuracy for the audit card: at one norm's standard eps, per example the worst case
over every attack run on the same images (jobs of one dataset and seed share their images, a
larger sample extending a smaller one), with each attack's own figure beside it.

The worst case is also split by what the attacks use of the model (``AttackInfo.access``):
``white_box`` over the attacks that need its input gradients, ``gradient_free`` over the
others (score-based, transfer, ensembles with a score-based stage). Where a sanity check
failed (masked gradients, or an attack that does not work), the card strikes the white-box
figure out and shows the gradient-free one beside it (``reports.card``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.kinds.robustness.job import PER_EXAMPLE, ROBUST_ACCURACY, white_box
from reports.card_common import (
    EPS_TOL,
    ArtifactLoader,
    as_int,
    column,
    first_valid,
    format_eps,
    plain_scalar,
)


def _jobs_at(rob: pd.DataFrame, norm: str, eps: float) -> list[dict[str, Any]]:
    """The robustness jobs of one norm whose eps grid holds ``eps``, with their value there."""
    curve = rob[(rob["metric"] == ROBUST_ACCURACY) & (column(rob, "norm") == norm)]
    out = []
    for job_id, job in curve.groupby("job_id", sort=False):
        at = job[(pd.to_numeric(column(job, "eps"), errors="coerce") - eps).abs() <= EPS_TOL]
        if at.empty:
            continue
        first = job.iloc[0]
        out.append({
            "job_id": str(job_id),
            "attack": str(first_valid(first.get("method"), first.get("attack"), "?")),
            "dataset": plain_scalar(first.get("dataset")),
            "seed": plain_scalar(first.get("seed")),
            "n": as_int(first.get("n")),
            "value": float(at["value"].iloc[0]),
        })
    return out


def robust_entry(
    rob: pd.DataFrame, norm: str, eps: float, artifact: ArtifactLoader
) -> dict[str, Any]:
    entry: dict[str, Any] = {"norm": norm, "eps": eps, "value": None, "n": None, "attacks": [],
                             "per_attack": {}, "strongest": None, "per_example": None,
                             "dataset": None, "seed": None, "note": None, "white_box": None,
                             "gradient_free": None, "gradient_free_attacks": [],
                             "masked": None}
    found = _jobs_at(rob, norm, eps)
    if not found:
        curve = rob[(rob["metric"] == ROBUST_ACCURACY) & (column(rob, "norm") == norm)]
        ran = sorted({float(e) for e in pd.to_numeric(column(curve, "eps"),
                                                      errors="coerce").dropna()
                      if e > 0})
        entry["note"] = (f"not run at eps {format_eps(eps)}; ran "
                         + ", ".join(format_eps(e) for e in ran)) if ran else "no attack run"
        return entry
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for job in found:
        groups.setdefault((job["dataset"], job["seed"]), []).append(job)

    def rank(group: list[dict[str, Any]]) -> tuple[int, int]:
        return len({j["attack"] for j in group}), min((j["n"] or 0) for j in group)

    best_key = max(groups, key=lambda k: rank(groups[k]))  # max keeps the first of ties
    group = groups[best_key]
    entry["dataset"], entry["seed"] = best_key
    entry["attacks"] = sorted({j["attack"] for j in group})
    white = [a for a in entry["attacks"] if white_box(a)]
    free = [a for a in entry["attacks"] if not white_box(a)]
    entry["gradient_free_attacks"] = free
    robust = _per_example(group, eps, artifact)
    if robust is None:
        entry["per_example"] = False
        per_attack = {a: min(j["value"] for j in group if j["attack"] == a)
                      for a in entry["attacks"]}
        entry["value"] = min(per_attack.values())
        for key, names in (("white_box", white), ("gradient_free", free)):
            entry[key] = min((per_attack[a] for a in names), default=None)
        ns = [j["n"] for j in group if j["n"] is not None]
        entry["n"] = min(ns) if ns else None
        entry["note"] = "aggregate rows only (no per-example results): minimum over attacks"
    else:
        entry["per_example"] = True
        n = min(len(r) for r in robust.values())
        alone = {}
        for attack in entry["attacks"]:
            alone[attack] = np.ones(n, dtype=bool)
            for job in group:
                if job["attack"] == attack:
                    alone[attack] &= robust[job["job_id"]][:n]
        per_attack = {a: float(v.mean()) if n else None for a, v in alone.items()}
        for key, names in (("value", entry["attacks"]), ("white_box", white),
                           ("gradient_free", free)):
            if names and n:
                entry[key] = float(np.logical_and.reduce([alone[a] for a in names]).mean())
        entry["n"] = n
    entry["per_attack"] = per_attack
    scored = [(v, a) for a, v in per_attack.items() if v is not None]
    entry["strongest"] = min(scored)[1] if scored else None
    return entry


def _per_example(
    group: list[dict[str, Any]], eps: float, artifact: ArtifactLoader
) -> dict[str, np.ndarray] | None:
    """Job id -> whether each example stays correct at ``eps``; ``None`` if any job lacks it."""
    out = {}
    for job in group:
        try:
            art = artifact(job["job_id"], PER_EXAMPLE)
        except KeyError:
            return None
        grid = np.asarray(art.get("eps", []), dtype=np.float64)
        hits = np.flatnonzero(np.abs(grid - eps) <= EPS_TOL)
        if not len(hits) or "clean_correct" not in art or "fooled_at" not in art:
            return None
        k = int(hits[0])
        fooled = np.asarray(art["fooled_at"])
        out[job["job_id"]] = np.asarray(art["clean_correct"], dtype=bool) & (
            (fooled == -1) | (fooled > k))
    return out
