"""The stress section's figure: how seconds per step and peak memory grow with image size
(one line per model x method) and with the model's depth at one size."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from bench.figures import BAD, house_style, log_y, to_data_uri

MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", ":", "-.")
# fixed per method across panels, distinct from the attack palette's order
METHOD_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
BROKE = {"linestyle": "none", "marker": "x", "color": BAD, "markeredgewidth": 2.2}


def _colour(methods: list[str], method: str) -> str:
    return METHOD_COLOURS[methods.index(method) % len(METHOD_COLOURS)]


def _style(models: list[str], methods: list[str], model: str,
           method: str) -> dict[str, object]:
    i = models.index(model)
    return {"color": _colour(methods, method), "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def _spaced_labels(sizes: list[int]) -> list[str]:
    """Tick labels on a log axis, leaving out any that would sit on the previous one
    (28 next to 32, 224 next to 256)."""
    labels, last = [], None
    for size in sizes:
        close = last is not None and np.log2(size / last) < 0.3
        labels.append("" if close else str(size))
        last = last if close else size
    return labels


def depth_size(table: pd.DataFrame) -> int | None:
    """The size measured by most model x method pairs (the largest such): where depths are
    compared fairly."""
    counts = table.groupby("size")[["model", "method"]].apply(
        lambda d: len(d.drop_duplicates()))
    return int(max(counts.index, key=lambda s: (counts[s], s))) if len(counts) else None


def scaling_figure(rows: list[dict[str, Any]]) -> tuple[str, int | None]:
    """Seconds per step and peak memory against image size (one line per model x method),
    and seconds per step against model depth at one size; returns the figure and that size.

    Settings with several step counts use the largest (the steadiest per-step figure).
    """
    table = pd.DataFrame(rows)
    table = table[table["steps"] == table.groupby(["model", "method"])["steps"].transform("max")]
    models = list(dict.fromkeys(table["model"]))
    methods = list(dict.fromkeys(table["method"]))
    at = depth_size(table)
    with house_style():
        fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.3),
                                 gridspec_kw={"width_ratios": [1, 1, 0.85]})
        broke = _size_panels(axes[:2], table, models, methods)
        _depth_panel(axes[2], table[table["size"] == at].copy(), models, methods, at)
        _legend(fig, models, methods, broke=len(broke) > 0)
        return to_data_uri(fig), at


def _size_panels(axes: Any, table: pd.DataFrame, models: list[str],
                 methods: list[str]) -> pd.DataFrame:
    """Seconds per step and peak memory against size, settings that blew up crossed;
    returns those settings."""
    for (model, method), line in table.groupby(["model", "method"], sort=False):
        line = line.sort_values("size")
        style = _style(models, methods, model, method)
        axes[0].plot(line["size"], line["seconds_per_step"], markersize=5, **style)
        axes[1].plot(line["size"], line["peak_mb"], markersize=5, **style)
    sizes = sorted(table["size"].unique())
    for ax in axes:
        ax.set_xlabel("image side (px)")
        ax.set_xscale("log")
        ax.set_xticks(sizes, _spaced_labels(sizes))
        ax.minorticks_off()
    log_y(axes[0], table["seconds_per_step"])
    log_y(axes[1], table["peak_mb"])
    broke = table[~table["finite"].astype(bool)]
    for ax, column in zip(axes, ("seconds_per_step", "peak_mb"), strict=True):
        ax.plot(broke["size"], broke[column], markersize=11, zorder=5, **BROKE)
    axes[0].set(title="seconds per step", ylabel="s / step")
    axes[1].set(title="peak memory", ylabel="MB above the start")
    return broke


def _depth_panel(ax: plt.Axes, fixed: pd.DataFrame, models: list[str], methods: list[str],
                 at: int | None) -> None:
    """Seconds per step against depth at size ``at``: a line per method, a marker per model."""
    fixed["depth"] = fixed["depth"].astype(float)
    for method, line in fixed.groupby("method", sort=False):
        line = line.sort_values("depth")
        ax.plot(line["depth"], line["seconds_per_step"], color=_colour(methods, method),
                linewidth=1)
        for _, r in line.iterrows():
            marker = {k: v for k, v in _style(models, methods, r["model"], method).items()
                      if k != "linestyle"}
            ax.plot(r["depth"], r["seconds_per_step"], linestyle="none", markersize=6,
                    **marker)
    log_y(ax, fixed["seconds_per_step"])
    ax.set(title=f"s/step by depth at {at} px", xlabel="conv + linear layers")
    depths = sorted(fixed["depth"].dropna().unique())
    if depths:
        margin = 0.5 + 0.05 * (depths[-1] - depths[0])
        ax.set_xticks(depths, [f"{d:g}" for d in depths])
        ax.set_xlim(depths[0] - margin, depths[-1] + margin)
        ax.minorticks_off()


def _legend(fig: plt.Figure, models: list[str], methods: list[str], *, broke: bool) -> None:
    """Colour: method; marker and line style: model; a cross: blew up."""
    handles = [Line2D([], [], color=_colour(methods, m), label=m) for m in methods]
    handles += [Line2D([], [], color="#555555", marker=MARKERS[i % len(MARKERS)],
                       linestyle=LINESTYLES[i % len(LINESTYLES)], label=m)
                for i, m in enumerate(models)]
    if broke:
        handles.append(Line2D([], [], label="blew up (not finite)", **BROKE))
    ncol = min(len(handles), 4)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.06 * math.ceil(len(handles) / ncol), 1, 1))
