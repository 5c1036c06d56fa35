"""Line figures: the dimension argument and robust-accuracy-vs-eps curves."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import PercentFormatter

from reports.plotting import PALETTE, color_for, house_style, to_data_uri

NORM_TITLES = {"linf": "L∞", "l2": "L2"}


def dimension_figure(df: pd.DataFrame) -> str | None:
    """Left: score shift vs dimension (log-log). Right: the MNIST linear model's margin shift
    and flip rate vs eps. ``df`` holds the rows of the dimension jobs.
    """
    sweep = df[df["method"] == "dimension_sweep"]
    margin = df[df["method"] == "linear_model_shift"]
    if sweep.empty and margin.empty:
        return None
    with house_style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(10.2, 4.0))
        if not sweep.empty:
            wide = sweep.pivot_table(index="dim", columns="metric", values="value")
            eps = sweep["eps"].iloc[0]
            left.plot(wide.index, wide["predicted_shift"], color=PALETTE[0], lw=2,
                      label="predicted  ε·‖w‖₁")
            if "expected_shift" in wide:
                left.plot(wide.index, wide["expected_shift"], color="#888888", lw=1, ls="--",
                          label="expected  ε·d·√(2/π)")
            left.plot(wide.index, wide["measured_shift"], "o", color=PALETTE[1], ms=7,
                      mfc="none", mew=2, label="measured  w·x_adv − w·x")
            left.set(xscale="log", yscale="log", xlabel="input dimension d",
                     ylabel="score shift", title=f"Linear score, ‖η‖∞ = ε = {eps:g}")
            left.legend(loc="upper left")
        else:
            left.set_visible(False)
        if not margin.empty:
            wide = margin.pivot_table(index="eps", columns="metric", values="value")
            model = margin["model_label"].dropna().iloc[0] if "model_label" in margin else ""
            right.plot(wide.index, wide["predicted_margin_shift"], color=PALETTE[0], lw=2,
                       marker="s", ms=4, label="predicted (no clipping)")
            right.plot(wide.index, wide["measured_margin_shift"], color=PALETTE[1], lw=2,
                       marker="o", ms=4, label="measured (clipped to [0, 1])")
            right.set(xlabel="ε (L∞, pixel units)", ylabel="mean margin decrease  z_y − z_j",
                      title=f"{model}: margin shift vs ε")
            flips = right.twinx()
            flips.plot(wide.index, wide["flip_rate"], color=PALETTE[2], lw=1.5, ls=":",
                       marker="^", ms=4, label="flip rate (right axis)")
            flips.set_ylim(0, 1.05)
            flips.yaxis.set_major_formatter(PercentFormatter(1.0))
            flips.set_ylabel("correct examples flipped", color=PALETTE[2])
            flips.grid(False)
            flips.spines["right"].set_visible(True)
            lines = right.get_lines() + flips.get_lines()
            # the curves rise to the right and the flip rate saturates early: lower right is free
            right.legend(lines, [ln.get_label() for ln in lines], loc="lower right")
        else:
            right.set_visible(False)
        fig.tight_layout()
        return to_data_uri(fig)


def curve_label(row: pd.Series, varying: list[str]) -> str:
    extra = ", ".join(f"{k}={_fmt(row[k])}" for k in varying if pd.notna(row.get(k)))
    return f"{row['method']} ({extra})" if extra else str(row["method"])


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def robustness_figure(curves: pd.DataFrame, norm: str, attack_order: list[str]) -> str:
    """One panel per model, one line per attack configuration, for one norm.

    ``curves``: columns model_label, curve, method, eps, value (robust accuracy, 0..1).
    """
    models = list(dict.fromkeys(curves["model_label"]))
    cols = min(len(models), 3)
    rows = math.ceil(len(models) / cols)
    with house_style():
        fig, axes = plt.subplots(rows, cols, figsize=(3.7 * cols, 3.2 * rows), sharey=True,
                                 squeeze=False)
        for ax, model in zip(axes.flat, models, strict=False):
            panel = curves[curves["model_label"] == model]
            for curve, line in panel.groupby("curve", sort=False):
                line = line.sort_values("eps")
                ax.plot(line["eps"], line["value"], marker="o", ms=4, lw=2,
                        color=color_for(line["method"].iloc[0], attack_order), label=curve,
                        ls=_dash(curve, panel))
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


def _dash(curve: str, panel: pd.DataFrame) -> str:
    """Solid for the first configuration of an attack, dashed for further ones."""
    method = panel.loc[panel["curve"] == curve, "method"].iloc[0]
    same = list(dict.fromkeys(panel.loc[panel["method"] == method, "curve"]))
    return "-" if same.index(curve) == 0 else "--"
