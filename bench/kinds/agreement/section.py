"""The agreement section: one table row per model and method, the differences between our
map and Captum's and both timings, methods in the lecture's order."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.kind import ArtifactLoader
from bench.kinds.agreement.job import (
    MAX_ABS_DIFF,
    NOT_COMPARED,
    RELATIVE_ERROR,
    SECONDS_CAPTUM,
    SECONDS_OURS,
    SPEARMAN,
)
from bench.kinds.attribution.section import method_title
from bench.kinds.attribution_calls import LEFT_OUT, MAP_LAYER, lecture_rank

#: template key -> metric
COLUMNS = {"max_abs_diff": MAX_ABS_DIFF, "relative_error": RELATIVE_ERROR,
           "spearman": SPEARMAN, "seconds_ours": SECONDS_OURS,
           "seconds_captum": SECONDS_CAPTUM}


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """One row per model and method, its metrics under the template's keys, the layer a
    layer method read, and why a method was not compared or left out."""
    if rows.empty:
        return []
    table = rows.pivot_table(index=["model_label", "method"], columns="metric",
                             values="value", sort=False)
    models = list(dict.fromkeys(rows["model_label"]))
    methods = sorted(rows["method"].unique(), key=lecture_rank)
    table = table.sort_index(key=lambda level: level.map(
        models.index if level.name == "model_label" else methods.index))
    reason = {metric: _reasons(rows, metric) for metric in (NOT_COMPARED, LEFT_OUT)}
    layer = {}
    if MAP_LAYER in rows:
        named = rows.dropna(subset=[MAP_LAYER])
        layer = {(r["model_label"], r["method"]): r[MAP_LAYER] for _, r in named.iterrows()}
    return [{"model": model, "method": method_title(method),
             "layer": layer.get((model, method)),
             "not_compared": reason[NOT_COMPARED].get((model, method)),
             "left_out": reason[LEFT_OUT].get((model, method)),
             **{key: row.get(metric) for key, metric in COLUMNS.items()}}
            for (model, method), row in table.iterrows()]


def _reasons(rows: pd.DataFrame, metric: str) -> dict[tuple[str, str], str | None]:
    """(model, method) -> the reason of its row of ``metric``."""
    found = rows[rows["metric"] == metric]
    return {(r["model_label"], r["method"]): r.get("reason") for _, r in found.iterrows()}
