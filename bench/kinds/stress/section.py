"""The stress section: one table row per model x method x size x steps (cost and health of
the repeats, failures marked), and the scaling figure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.kind import ArtifactLoader
from bench.kinds.attribution_calls import LEFT_OUT
from bench.kinds.stress.figures import scaling_figure
from bench.kinds.stress.job import (
    DETERMINISTIC,
    EVALUATIONS_PER_STEP,
    FAILED_STEP,
    FINITE,
    IMPROVED,
    PEAK_MEMORY_MB,
    SECONDS_PER_STEP,
)

KEY = ["model_label", "method", "size", "steps"]


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> dict[str, Any] | None:
    """The stress table (every setting, failures marked), the scaling figure, and what the
    jobs left out (a method or a size), each with its reason."""
    if rows.empty:
        return None
    out = rows[rows["metric"] == LEFT_OUT]
    rows = rows[rows["metric"] != LEFT_OUT]
    left_out = [{"model": r["model_label"], "method": r["method"],
                 "size": None if "size" not in r or pd.isna(r["size"]) else int(r["size"]),
                 "reason": str(r.get("reason", ""))} for _, r in out.iterrows()]
    table = stress_rows(rows) if not rows.empty else []
    figure, size = scaling_figure(table) if table else (None, None)
    sources = sorted(set(rows["memory_source"].dropna())) if "memory_source" in rows else []
    return {"rows": table, "figure": figure, "depth_size": size, "memory_sources": sources,
            "failed": [r for r in table if not r["finite"]], "left_out": left_out}


def _float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def stress_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per model x method x size x steps, in the run's order, so a failed setting
    stays where it was measured."""
    return [_setting_row(key, part) for key, part in df.groupby(KEY, sort=False)]


def _setting_row(key: tuple[Any, ...], part: pd.DataFrame) -> dict[str, Any]:
    model, method, size, steps = key
    runs = part[part["metric"] != DETERMINISTIC]

    def per_repeat(metric: str) -> list[float]:
        rows = runs[runs["metric"] == metric].sort_values("repeat")
        return [float(v) for v in rows["value"]]

    sps = per_repeat(SECONDS_PER_STEP)
    finite = per_repeat(FINITE)
    improved = per_repeat(IMPROVED)
    det = part.loc[part["metric"] == DETERMINISTIC, "value"]
    memory = per_repeat(PEAK_MEMORY_MB)
    evals = per_repeat(EVALUATIONS_PER_STEP)
    sources = sorted(set(runs["memory_source"].dropna())) if "memory_source" in runs else []
    return {
        "model": model, "method": method, "size": int(size), "steps": int(steps),
        "parameters": _float(part["parameters"].iloc[0]) if "parameters" in part else None,
        "depth": _float(part["depth"].iloc[0]) if "depth" in part else None,
        "seconds_per_step": float(np.mean(sps)) if sps else None,
        "repeats": sps,
        "spread": (max(sps) - min(sps)) / np.mean(sps) if len(sps) > 1 and np.mean(sps)
        else None,
        "evaluations_per_step": float(np.mean(evals)) if evals else None,
        "peak_mb": max(memory) if memory else None,
        "finite": bool(finite) and all(finite),
        "failed_steps": sorted({int(v) for v in per_repeat(FAILED_STEP)}),
        "improved": bool(improved) and all(improved),
        "deterministic": None if det.empty else bool(det.iloc[0]),
        "memory_source": ", ".join(sources),
    }
