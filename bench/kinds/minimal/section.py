"""The minimal-perturbation section: per norm, one panel per model with each attack's robust
accuracy as a function of eps read off its per-example norms (a step curve, exact at every
eps, not only at the grid's), and the table of the norms' quantiles."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from bench.figures import NORM_TITLES, color_for, house_style, to_data_uri
from bench.kind import ArtifactLoader, get_kind
from bench.kinds.minimal.job import (
    ATTACK_SECONDS,
    CLEAN_ACCURACY,
    GRADIENT_PASSES,
    NORM_QUANTILE,
    NORMS,
    ROBUST_ACCURACY,
    SUCCESS_RATE,
)
from bench.schema import setting_columns

ROW_KEYS = ("model_label", "method", "weights_sha256", "eps", "quantile")


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Per norm: the figure and the table."""
    if rows.empty:
        return []
    settings = setting_columns(get_kind("minimal"), rows, ROW_KEYS)
    order = [n for n in NORM_TITLES if n in set(rows["norm"])]
    order += sorted(set(rows["norm"]) - set(order))
    return [_norm_part(rows[rows["norm"] == norm], norm, settings, artifact) for norm in order]


def _norm_part(part: pd.DataFrame, norm: str, settings: list[str],
               artifact: ArtifactLoader) -> dict[str, Any]:
    grid = sorted(pd.to_numeric(part.loc[part["metric"] == ROBUST_ACCURACY, "eps"]).unique())
    table, curves = [], []
    for job_id, job in part.groupby("job_id", sort=False):
        first = job.iloc[0]
        metrics = job.drop_duplicates("metric").set_index("metric")["value"]
        quant = job[job["metric"] == NORM_QUANTILE]
        quantiles = dict(zip(pd.to_numeric(quant["quantile"]), quant["value"], strict=True))
        table.append({
            "model": first["model_label"], "attack": first["method"],
            "settings": ", ".join(f"{k}={_setting(first[k])}" for k in settings
                                  if pd.notna(first.get(k))),
            "n": first.get("n"), "clean": metrics.get(CLEAN_ACCURACY),
            "success": metrics.get(SUCCESS_RATE),
            "quantiles": [_finite(quantiles.get(q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9)],
            "passes": metrics.get(GRADIENT_PASSES), "seconds": metrics.get(ATTACK_SECONDS),
        })
        try:
            norms = np.asarray(artifact(str(job_id), NORMS)["norms"], dtype=np.float64)
        except KeyError:
            continue
        curves.append((str(first["model_label"]), str(first["method"]), norms))
    return {"norm": norm, "title": NORM_TITLES.get(norm, norm), "eps": grid, "rows": table,
            "figure": minimal_figure(curves, norm, max(grid, default=0.0)) if curves else None}


def _setting(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _finite(value: object) -> float | str | None:
    """A quantile, or "none found" where it lies beyond the attack's success rate."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return "not found" if math.isinf(float(value)) else float(value)


def minimal_figure(curves: list[tuple[str, str, np.ndarray]], norm: str, right: float) -> str:
    """One panel per model; per attack the share of examples whose smallest adversarial
    perturbation exceeds eps (clean-wrong ones at 0: the curve starts at clean accuracy)."""
    models = list(dict.fromkeys(m for m, _, _ in curves))
    attack_order = sorted({a for _, a, _ in curves})
    finite = np.concatenate([c[np.isfinite(c)] for _, _, c in curves])
    top = max(right, float(finite.max()) if finite.size else 0.0) * 1.05 or 1.0
    cols = min(len(models), 3)
    rows = math.ceil(len(models) / cols)
    with house_style():
        fig, axes = plt.subplots(rows, cols, figsize=(3.7 * cols, 3.2 * rows), sharey=True,
                                 squeeze=False)
        for ax, model in zip(axes.flat, models, strict=False):
            for m, attack, norms in curves:
                if m != model or not norms.size:
                    continue
                eps = np.linspace(0.0, top, 400)
                robust = (norms[None, :] > eps[:, None]).mean(axis=1)
                ax.plot(eps, robust, lw=2, color=color_for(attack, attack_order),
                        label=attack)
            ax.set_title(model)
            ax.set_xlabel(f"ε ({NORM_TITLES.get(norm, norm)}, pixel units)")
            ax.set_ylim(-0.03, 1.03)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.legend(loc="best")
        for ax in axes[:, 0]:
            ax.set_ylabel("robust accuracy")
        for ax in list(axes.flat)[len(models):]:
            ax.set_visible(False)
        fig.tight_layout()
        return to_data_uri(fig)
