"""The dimension section: the score shift of the abstract linear model vs dimension (left) and
the linear MNIST model's margin shift and flip rate vs eps (right)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import PercentFormatter

from bench.figures import PALETTE, house_style, to_data_uri
from bench.kind import ArtifactLoader
from bench.kinds.dimension.job import (
    EXPECTED_SHIFT,
    FLIP_RATE,
    MEASURED_MARGIN_SHIFT,
    MEASURED_SHIFT,
    MODEL_SHIFT,
    PREDICTED_MARGIN_SHIFT,
    PREDICTED_SHIFT,
    SWEEP,
)


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> dict[str, Any] | None:
    """The first dimension job's figure, sweep table, model and eps."""
    if rows.empty:
        return None
    dim = rows[rows["job_id"] == rows["job_id"].iloc[0]]
    sweep = dim[dim["method"] == SWEEP].pivot_table(
        index="dim", columns="metric", values="value").reset_index()
    margin = dim[dim["method"] == MODEL_SHIFT]
    return {
        "figure": dimension_figure(dim),
        "sweep": sweep.to_dict("records"),
        "model": margin["model_label"].dropna().iloc[0] if not margin.empty else "",
        # the model's input size and classes, and the share of its images' pixels at 0
        # (runs stored before the last two were kept: not said)
        **{key: _first(margin, key) for key in ("dim", "classes", "zero_pixels")},
        "eps": float(dim.loc[dim["method"] == SWEEP, "eps"].iloc[0])
        if not sweep.empty else None,
    }


def dimension_figure(df: pd.DataFrame) -> str | None:
    """Left: score shift vs dimension (log-log). Right: the MNIST linear model's margin shift
    and flip rate vs eps. ``df`` holds the rows of the dimension jobs.
    """
    sweep = df[df["method"] == SWEEP]
    margin = df[df["method"] == MODEL_SHIFT]
    if sweep.empty and margin.empty:
        return None
    with house_style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(10.2, 4.0))
        if not sweep.empty:
            _sweep_panel(left, sweep)
        else:
            left.set_visible(False)
        if not margin.empty:
            _margin_panel(right, margin)
        else:
            right.set_visible(False)
        fig.tight_layout()
        return to_data_uri(fig)


def _first(rows: pd.DataFrame, column: str) -> float | None:
    """The column's first value, ``None`` when no row has one."""
    if column not in rows:
        return None
    values = rows[column].dropna()
    return float(values.iloc[0]) if len(values) else None


def _sweep_panel(ax: plt.Axes, sweep: pd.DataFrame) -> None:
    wide = sweep.pivot_table(index="dim", columns="metric", values="value")
    eps = sweep["eps"].iloc[0]
    ax.plot(wide.index, wide[PREDICTED_SHIFT], color=PALETTE[0], lw=2,
            label="predicted  ε·‖w‖₁")
    if EXPECTED_SHIFT in wide:
        ax.plot(wide.index, wide[EXPECTED_SHIFT], color="#888888", lw=1, ls="--",
                label="expected  ε·d·√(2/π)")
    ax.plot(wide.index, wide[MEASURED_SHIFT], "o", color=PALETTE[1], ms=7,
            mfc="none", mew=2, label="measured  w·x_adv − w·x")
    ax.set(xscale="log", yscale="log", xlabel="input dimension d",
           ylabel="score shift", title=f"Linear score, ‖η‖∞ = ε = {eps:g}")
    ax.legend(loc="upper left")


def _margin_panel(ax: plt.Axes, margin: pd.DataFrame) -> None:
    wide = margin.pivot_table(index="eps", columns="metric", values="value")
    model = margin["model_label"].dropna().iloc[0] if "model_label" in margin else ""
    ax.plot(wide.index, wide[PREDICTED_MARGIN_SHIFT], color=PALETTE[0], lw=2,
            marker="s", ms=4, label="predicted (no clipping)")
    ax.plot(wide.index, wide[MEASURED_MARGIN_SHIFT], color=PALETTE[1], lw=2,
            marker="o", ms=4, label="measured (clipped to [0, 1])")
    ax.set(xlabel="ε (L∞, pixel units)", ylabel="mean margin decrease  z_y − z_j",
           title=f"{model}: margin shift vs ε")
    flips = ax.twinx()
    flips.plot(wide.index, wide[FLIP_RATE], color=PALETTE[2], lw=1.5, ls=":",
               marker="^", ms=4, label="flip rate (right axis)")
    flips.set_ylim(0, 1.05)
    flips.yaxis.set_major_formatter(PercentFormatter(1.0))
    flips.set_ylabel("correct examples flipped", color=PALETTE[2])
    flips.grid(False)
    flips.spines["right"].set_visible(True)
    lines = ax.get_lines() + flips.get_lines()
    # the curves rise to the right and the flip rate saturates early: lower right is free
    ax.legend(lines, [ln.get_label() for ln in lines], loc="lower right")
