"""Generative methods under stress: one table row per model x method x size x steps (cost and
health of two repeats), and how seconds per step and peak memory grow with image size and
with the model's depth."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from reports.plotting import house_style, to_data_uri

MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", ":", "-.")
# fixed per method across panels, distinct from the attack palette's order
METHOD_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
KEY = ["model_label", "method", "size", "steps"]


def _float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def stress_rows(df: pd.DataFrame) -> list[dict[str, object]]:
    """One dict per model x method x size x steps, in the run's order, so a failed setting
    stays where it was measured."""
    out = []
    for (model, method, size, steps), part in df.groupby(KEY, sort=False):
        runs = part[part["metric"] != "deterministic"]

        def per_repeat(metric: str, part: pd.DataFrame = runs) -> list[float]:
            rows = part[part["metric"] == metric].sort_values("repeat")
            return [float(v) for v in rows["value"]]

        sps = per_repeat("seconds_per_step")
        finite = per_repeat("finite")
        improved = per_repeat("improved")
        failed = sorted({int(v) for v in per_repeat("failed_step")})
        det = part.loc[part["metric"] == "deterministic", "value"]
        memory = per_repeat("peak_memory_mb")
        evals = per_repeat("evaluations_per_step")
        sources = sorted(set(runs["memory_source"].dropna())) if "memory_source" in runs else []
        out.append({
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
            "failed_steps": failed,
            "improved": bool(improved) and all(improved),
            "deterministic": None if det.empty else bool(det.iloc[0]),
            "memory_source": ", ".join(sources),
        })
    return out


def _style(models: list[str], methods: list[str], model: str,
           method: str) -> dict[str, object]:
    i = models.index(model)
    return {"color": METHOD_COLOURS[methods.index(method) % len(METHOD_COLOURS)],
            "marker": MARKERS[i % len(MARKERS)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}


PLAIN = FuncFormatter(lambda v, _: f"{v:.3g}")


def log_y(ax: plt.Axes, values: pd.Series) -> None:
    """Log y with plain tick labels (0.1, 2, 50) when every value is positive."""
    finite = values[np.isfinite(values.astype(float))]
    if len(finite) and (finite > 0).all():
        ax.set_yscale("log")
        lo, hi = float(finite.min()), float(finite.max())
        ax.yaxis.set_major_locator(FixedLocator(_ticks(lo / 1.15, hi * 1.15)))
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(NullFormatter())


def _ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks inside ``[lo, hi]``: powers of ten only over a wide range, finer steps
    when that gives fewer than 3."""
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    if math.log10(hi / lo) > 2.5:
        ticks = [10.0**e for e in decades if lo <= 10.0**e <= hi]
        return ticks[:: math.ceil(len(ticks) / 7)]
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)):
        ticks = [m * 10.0**e for e in decades for m in mantissas if lo <= m * 10.0**e <= hi]
        if len(ticks) >= 3:
            return ticks
    return [float(f"{v:.2g}") for v in ((lo * 1.15, hi / 1.15) if hi > lo else (lo * 1.15,))]


def _spaced_labels(sizes: list[int]) -> list[str]:
    """Tick labels on a log axis, leaving out any that would sit on the previous one
    (28 next to 32, 224 next to 256)."""
    labels, last = [], None
    for size in sizes:
        close = last is not None and np.log2(size / last) < 0.3
        labels.append("" if close else str(size))
        last = last if close else size
    return labels


def scaling_figure(rows: list[dict[str, object]]) -> tuple[str, int | None]:
    """Seconds per step and peak memory against image size (one line per model x method),
    and seconds per step against model depth at one size; returns the figure and that size.

    Settings with several step counts use the largest (the steadiest per-step figure).
    """
    table = pd.DataFrame(rows)
    table = table[table["steps"] == table.groupby(["model", "method"])["steps"].transform("max")]
    models = list(dict.fromkeys(table["model"]))
    methods = list(dict.fromkeys(table["method"]))
    # the size measured by most model x method pairs (the largest such): a fair comparison
    counts = table.groupby("size")[["model", "method"]].apply(
        lambda d: len(d.drop_duplicates()))
    at = int(max(counts.index, key=lambda s: (counts[s], s))) if len(counts) else None
    with house_style():
        fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.3),
                                 gridspec_kw={"width_ratios": [1, 1, 0.85]})
        for (model, method), line in table.groupby(["model", "method"], sort=False):
            line = line.sort_values("size")
            style = _style(models, methods, model, method)
            axes[0].plot(line["size"], line["seconds_per_step"], markersize=5, **style)
            axes[1].plot(line["size"], line["peak_mb"], markersize=5, **style)
        for ax in axes[:2]:
            ax.set_xlabel("image side (px)")
            ax.set_xscale("log")
            sizes = sorted(table["size"].unique())
            ax.set_xticks(sizes, _spaced_labels(sizes))
            ax.minorticks_off()
        log_y(axes[0], table["seconds_per_step"])
        log_y(axes[1], table["peak_mb"])
        broke = table[~table["finite"].astype(bool)]
        for ax, column in zip(axes[:2], ("seconds_per_step", "peak_mb"), strict=True):
            ax.plot(broke["size"], broke[column], linestyle="none", marker="x", color="#c62828",
                    markersize=11, markeredgewidth=2.2, zorder=5)
        axes[0].set(title="seconds per step", ylabel="s / step")
        axes[1].set(title="peak memory", ylabel="MB above the start")
        fixed = table[table["size"] == at].copy()
        fixed["depth"] = fixed["depth"].astype(float)
        for method, line in fixed.groupby("method", sort=False):
            line = line.sort_values("depth")
            colour = METHOD_COLOURS[methods.index(method) % len(METHOD_COLOURS)]
            axes[2].plot(line["depth"], line["seconds_per_step"], color=colour, linewidth=1)
            for _, r in line.iterrows():
                axes[2].plot(r["depth"], r["seconds_per_step"], linestyle="none", markersize=6,
                             **{k: v for k, v in _style(models, methods, r["model"], method)
                                .items() if k != "linestyle"})
        log_y(axes[2], fixed["seconds_per_step"])
        axes[2].set(title=f"s/step by depth at {at} px", xlabel="conv + linear layers")
        depths = sorted(fixed["depth"].dropna().unique())
        if depths:
            axes[2].set_xticks(depths, [f"{d:g}" for d in depths])
            axes[2].set_xlim(depths[0] - 0.5 - 0.05 * (depths[-1] - depths[0]),
                             depths[-1] + 0.5 + 0.05 * (depths[-1] - depths[0]))
            axes[2].minorticks_off()
        handles = [Line2D([], [], color=METHOD_COLOURS[i % len(METHOD_COLOURS)], label=m)
                   for i, m in enumerate(methods)]
        handles += [Line2D([], [], color="#555555", marker=MARKERS[i % len(MARKERS)],
                           linestyle=LINESTYLES[i % len(LINESTYLES)], label=m)
                    for i, m in enumerate(models)]
        if len(broke):
            handles.append(Line2D([], [], color="#c62828", marker="x", linestyle="none",
                                  markeredgewidth=2.2, label="blew up (not finite)"))
        ncol = min(len(handles), 4)
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8,
                   bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.06 * math.ceil(len(handles) / ncol), 1, 1))
        return to_data_uri(fig), at
