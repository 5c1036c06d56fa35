"""The "is the map any good?" section: per job, the deletion and insertion curves (Petsiuk et
al. 2018), the cascading randomisation curves (Adebayo et al. 2018), and one table row per
method of every score, with the randomisation verdict."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.figures import (
    PALETTE,
    WIDTH,
    category_ticks,
    house_style,
    shared_prefix,
    shorten,
    to_data_uri,
)
from bench.kind import ArtifactLoader
from bench.kinds.attribution.section import method_title, reason_of
from bench.kinds.attribution_calls import LEFT_OUT, MAP_LAYER, lecture_rank
from bench.kinds.quality.job import (
    CURVES,
    DELETION_AUC,
    FRAGILITY_SPEARMAN,
    FRAGILITY_TOP_K_OVERLAP,
    INSERTION_AUC,
    MASS_INSIDE_MASK,
    POINTING_GAME,
    RANDOMISATION_PASSED,
    RANDOMISATION_SPEARMAN,
    RANDOMISATION_SPEARMAN_ABS,
    RANDOMISATION_SSIM,
    SEGMENTATION_IOU,
    UNIFORM_BASELINE,
)

#: the table's scores; the template reads each row's values under these names
SCORES = (DELETION_AUC, INSERTION_AUC, FRAGILITY_SPEARMAN, FRAGILITY_TOP_K_OVERLAP,
          MASS_INSIDE_MASK, POINTING_GAME, SEGMENTATION_IOU)
#: the randomisation panels, left to right
RANDOMISATION_PANELS = ((RANDOMISATION_SPEARMAN_ABS, "Spearman ρ of |map|"),
                        (RANDOMISATION_SPEARMAN, "Spearman ρ of the signed map"),
                        (RANDOMISATION_SSIM, "SSIM of |map|"))
#: up to this many stages, the three randomisation panels sit side by side
SHORT_CASCADE = 12


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Per job: its model, sample size, figure, table rows and the methods that failed."""
    out = []
    for job_id, job in rows.groupby("job_id", sort=False):
        table = quality_rows(job)
        figure, named = quality_figure(job, artifact(job_id, CURVES))
        layers = cascade(job)
        out.append({
            "model": job["model_label"].iloc[0],
            "n": int(job["n"].iloc[0]) if "n" in job else None,
            "figure": figure,
            # what the randomisation axis shows: its stages, the path their names share
            # (left off the labels), and how many of them are named
            "stages": len(layers), "prefix": stage_labels(layers)[1], "named": named,
            "rows": table,
            "masks": any(r[MASS_INSIDE_MASK] is not None for r in table),
            "failed": [r["method"] for r in table if r["passed"] is False],
            "left_out": [r for r in table if r["left_out"] is not None],
        })
    return out


def quality_rows(job: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per method (and the uniform baseline): each score, ``None`` where missing, the
    layer a layer method read, and after them one row per method left out with its reason."""
    scalar = job[job["metric"].isin((*SCORES, RANDOMISATION_PASSED))]
    table = scalar.pivot_table(index="method", columns="metric", values="value", sort=False)
    layers = {}
    if MAP_LAYER in scalar:
        named = scalar.dropna(subset=[MAP_LAYER])
        layers = dict(zip(named["method"], named[MAP_LAYER], strict=True))
    out = []
    for method, row in table.iterrows():
        values = {k: (None if pd.isna(row.get(k)) else float(row[k])) for k in SCORES}
        passed = row.get(RANDOMISATION_PASSED)
        out.append({"method": method_title(str(method)), **values,
                    "passed": None if pd.isna(passed) else bool(passed),
                    "layer": layers.get(method), "left_out": None})
    left = [row for _, row in job[job["metric"] == LEFT_OUT].iterrows()]
    for row in sorted(left, key=lambda r: lecture_rank(str(r["method"]))):
        out.append({"method": method_title(str(row["method"])), **dict.fromkeys(SCORES),
                    "passed": None, "layer": None, "left_out": reason_of(row)})
    return out


def cascade(job: pd.DataFrame) -> list[str]:
    """The randomisation cascade's layers (or blocks), in stage order: the first stage
    re-initialises the output layer."""
    rows = job[job["metric"] == RANDOMISATION_PANELS[0][0]]
    if rows.empty or "stage" not in rows:
        return []
    stages = rows.dropna(subset=["stage"]).drop_duplicates("stage").sort_values("stage")
    return [str(layer) for layer in stages["layer"]]


def stage_labels(layers: list[str]) -> tuple[list[str], str]:
    """The tick labels of the cascade: each name without the module path all share (``net.``),
    cut in the middle when long; and that shared path."""
    prefix = shared_prefix(layers)
    return [shorten(layer[len(prefix):], 26) for layer in layers], prefix


def quality_figure(job: pd.DataFrame, curves: dict[str, np.ndarray]) -> tuple[str, int]:
    """Top: deletion and insertion curves. Below: the three randomisation similarities, side
    by side for a short cascade, each across the page for a long one (a deep network's
    dozens of layers), so every stage keeps room for its label; beyond what fits, every k-th
    stage is named. Returns the figure and how many stages it names."""
    ran = job[job["metric"] != LEFT_OUT]
    methods = [m for m in dict.fromkeys(ran["method"]) if m != UNIFORM_BASELINE]
    layers = cascade(job)
    labels, _ = stage_labels(layers)
    long = len(layers) > SHORT_CASCADE
    named = len(layers)
    with house_style():
        if long:
            # a label turned 90° at 7 pt is ~0.065 in a character tall
            room = 0.065 * max((len(s) for s in labels), default=4)
            # constrained: the turned labels widen only the gaps under their own panels
            fig = plt.figure(figsize=(WIDTH, 2.6 + 3 * (2.2 + room)), layout="constrained")
            grid = fig.add_gridspec(4, 3, height_ratios=[2.6] + [2.2 + room] * 3)
            top = [fig.add_subplot(grid[0, j]) for j in range(3)]
            bottom = [fig.add_subplot(grid[i + 1, :]) for i in range(3)]
            inches = WIDTH - 1.0
        else:
            fig, axes = plt.subplots(2, 3, figsize=(13.5, 7.4))
            top, bottom = list(axes[0]), list(axes[1])
            inches = 13.5 / 3 - 0.8
        for i, method in enumerate(methods):
            colour = PALETTE[i % len(PALETTE)]
            for ax, kind in zip(top[:2], ("deletion", "insertion"), strict=True):
                if f"{kind}_{method}" in curves:
                    ax.plot(curves["fractions"], curves[f"{kind}_{method}"], color=colour,
                            label=method_title(method))
            _randomisation_lines(bottom, job[job["method"] == method], method, colour,
                                 markersize=3 if long else 6)
        top[0].set(title="deletion (lower is better)", xlabel="fraction of pixels deleted",
                   ylabel="p(true class)")
        top[1].set(title="insertion (higher is better)", xlabel="fraction of pixels inserted")
        for ax in top[:2]:
            # a probability, on its whole range: a model that hardly moves (random weights)
            # shows flat curves, not noise magnified under an offset axis (1e-6 + 0.25)
            ax.set_ylim(-0.02, 1.02)
        similarities = ran[ran["metric"].isin([m for m, _ in RANDOMISATION_PANELS])]["value"]
        low = min(-0.55, float(np.nanmin(similarities, initial=0.0)) - 0.05)
        for ax, (_, label) in zip(bottom, RANDOMISATION_PANELS, strict=True):
            ax.set(title=f"randomisation: {label}", ylim=(low, 1.05),
                   xlabel="layers randomised, from the output down")
            if layers:
                named = len(category_ticks(ax, np.arange(1, len(layers) + 1), labels,
                                           inches=inches))
                ax.set_xlim(0.5, len(layers) + 0.5)
        if long:
            for ax in bottom:
                ax.set_ylabel("similarity", fontsize=9)
        else:
            bottom[0].set_ylabel("similarity to the trained model's map")
        handles, legend_labels = bottom[0].get_legend_handles_labels()
        top[2].axis("off")
        top[2].legend(handles, legend_labels, loc="center", title="method")
        if not long:
            fig.tight_layout()
        return to_data_uri(fig), named


def _randomisation_lines(axes: list[plt.Axes], rows: pd.DataFrame, method: str, colour: str,
                         *, markersize: float) -> None:
    """One method's similarity per stage of the cascade, one panel per measure; stage ``s``
    sits at ``s + 1``, where the figure names its layer."""
    for ax, (metric, _) in zip(axes, RANDOMISATION_PANELS, strict=True):
        stages = rows[rows["metric"] == metric].sort_values("stage")
        ax.plot(stages["stage"].astype(float) + 1, stages["value"], marker="o",
                markersize=markersize, color=colour, label=method_title(method))
