"""The "is the map any good?" section: per job, the deletion and insertion curves (Petsiuk et
al. 2018), the cascading randomisation curves (Adebayo et al. 2018), and one table row per
method of every score, with the randomisation verdict."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.figures import PALETTE, house_style, to_data_uri
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


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Per job: its model, sample size, figure, table rows and the methods that failed."""
    out = []
    for job_id, job in rows.groupby("job_id", sort=False):
        table = quality_rows(job)
        out.append({
            "model": job["model_label"].iloc[0],
            "n": int(job["n"].iloc[0]) if "n" in job else None,
            "figure": quality_figure(job, artifact(job_id, CURVES)),
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


def quality_figure(job: pd.DataFrame, curves: dict[str, np.ndarray]) -> str:
    """Top: deletion and insertion curves. Bottom: the three randomisation similarities."""
    ran = job[job["metric"] != LEFT_OUT]
    methods = [m for m in dict.fromkeys(ran["method"]) if m != UNIFORM_BASELINE]
    with house_style():
        fig, axes = plt.subplots(2, 3, figsize=(13.5, 7.4))
        for i, method in enumerate(methods):
            colour = PALETTE[i % len(PALETTE)]
            for ax, kind in zip(axes[0, :2], ("deletion", "insertion"), strict=True):
                if f"{kind}_{method}" in curves:
                    ax.plot(curves["fractions"], curves[f"{kind}_{method}"], color=colour,
                            label=method_title(method))
            _randomisation_lines(axes[1], job[job["method"] == method], method, colour)
        axes[0, 0].set(title="deletion (lower is better)", xlabel="fraction of pixels deleted",
                       ylabel="p(true class)")
        axes[0, 1].set(title="insertion (higher is better)",
                       xlabel="fraction of pixels inserted")
        for ax, (_, label) in zip(axes[1], RANDOMISATION_PANELS, strict=True):
            ax.set(title=f"randomisation: {label}", ylim=(-0.55, 1.05),
                   xlabel="layers randomised, from the output down")
        axes[1, 0].set_ylabel("similarity to the trained model's map")
        handles, labels = axes[1, 0].get_legend_handles_labels()
        axes[0, 2].axis("off")
        axes[0, 2].legend(handles, labels, loc="center", title="method")
        fig.tight_layout()
        return to_data_uri(fig)


def _randomisation_lines(axes: np.ndarray, rows: pd.DataFrame, method: str, colour: str) -> None:
    """One method's similarity per stage of the cascade, one panel per measure."""
    for ax, (metric, _) in zip(axes, RANDOMISATION_PANELS, strict=True):
        stages = rows[rows["metric"] == metric].sort_values("stage")
        ax.plot(np.arange(1, len(stages) + 1), stages["value"], marker="o", color=colour,
                label=method_title(method))
        ax.set_xticks(np.arange(1, len(stages) + 1),
                      [str(layer) for layer in stages["layer"]], rotation=30)
