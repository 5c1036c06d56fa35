"""The "is the map any good?" figures and table: deletion and insertion curves (Petsiuk et
al. 2018), the cascading randomisation curves (Adebayo et al. 2018), and one row per method
of every score, with the randomisation verdict."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reports.maps import TITLES
from reports.plotting import PALETTE, house_style, to_data_uri

SCORES = ("deletion_auc", "insertion_auc", "fragility_spearman", "fragility_top_k_overlap",
          "mass_inside_mask", "pointing_game", "segmentation_iou")


def _title(method: str) -> str:
    return TITLES.get(method, method).replace("\n", " ")


RANDOMISATION = (("randomisation_spearman_abs", "Spearman ρ of |map|"),
                 ("randomisation_spearman", "Spearman ρ of the signed map"),
                 ("randomisation_ssim", "SSIM of |map|"))


def quality_figure(job: pd.DataFrame, curves: dict[str, np.ndarray]) -> str:
    """Top: deletion and insertion curves. Bottom: the three randomisation similarities."""
    methods = [m for m in dict.fromkeys(job["method"]) if m != "uniform baseline"]
    with house_style():
        fig, axes = plt.subplots(2, 3, figsize=(13.5, 7.4))
        for i, method in enumerate(methods):
            colour = PALETTE[i % len(PALETTE)]
            for ax, kind in zip(axes[0, :2], ("deletion", "insertion"), strict=True):
                if f"{kind}_{method}" in curves:
                    ax.plot(curves["fractions"], curves[f"{kind}_{method}"], color=colour,
                            label=_title(method))
            for ax, (metric, _) in zip(axes[1], RANDOMISATION, strict=True):
                stages = job[(job["metric"] == metric) & (job["method"] == method)]
                stages = stages.sort_values("stage")
                ax.plot(np.arange(1, len(stages) + 1), stages["value"], marker="o",
                        color=colour, label=_title(method))
                ax.set_xticks(np.arange(1, len(stages) + 1),
                              [str(layer) for layer in stages["layer"]], rotation=30)
        axes[0, 0].set(title="deletion (lower is better)", xlabel="fraction of pixels deleted",
                       ylabel="p(true class)")
        axes[0, 1].set(title="insertion (higher is better)",
                       xlabel="fraction of pixels inserted")
        for ax, (_, label) in zip(axes[1], RANDOMISATION, strict=True):
            ax.set(title=f"randomisation: {label}", ylim=(-0.55, 1.05),
                   xlabel="layers randomised, from the output down")
        axes[1, 0].set_ylabel("similarity to the trained model's map")
        handles, labels = axes[1, 0].get_legend_handles_labels()
        axes[0, 2].axis("off")
        axes[0, 2].legend(handles, labels, loc="center", title="method")
        fig.tight_layout()
        return to_data_uri(fig)


def quality_rows(job: pd.DataFrame) -> list[dict[str, object]]:
    scalar = job[job["metric"].isin((*SCORES, "randomisation_passed"))]
    table = scalar.pivot_table(index="method", columns="metric", values="value", sort=False)
    rows = []
    for method, row in table.iterrows():
        values = {k: (None if pd.isna(row.get(k)) else float(row[k])) for k in SCORES}
        passed = row.get("randomisation_passed")
        rows.append({"method": _title(str(method)), **values,
                     "passed": None if pd.isna(passed) else bool(passed)})
    return rows
