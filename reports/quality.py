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


def quality_figure(job: pd.DataFrame, curves: dict[str, np.ndarray]) -> str:
    methods = [m for m in dict.fromkeys(job["method"]) if m != "uniform baseline"]
    rand = job[job["metric"] == "randomisation_spearman_abs"]
    with house_style():
        fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.6))
        for i, method in enumerate(methods):
            colour = PALETTE[i % len(PALETTE)]
            for ax, kind in zip(axes[:2], ("deletion", "insertion"), strict=True):
                if f"{kind}_{method}" in curves:
                    ax.plot(curves["fractions"], curves[f"{kind}_{method}"], color=colour,
                            label=_title(method))
            stages = rand[rand["method"] == method].sort_values("stage")
            axes[2].plot(np.arange(1, len(stages) + 1), stages["value"], marker="o",
                         color=colour, label=_title(method))
            if i == 0:
                axes[2].set_xticks(np.arange(1, len(stages) + 1),
                                   [str(layer) for layer in stages["layer"]], rotation=30)
        axes[0].set(title="deletion (lower is better)", xlabel="fraction of pixels deleted",
                    ylabel="p(true class)")
        axes[1].set(title="insertion (higher is better)", xlabel="fraction of pixels inserted")
        axes[2].set(title="randomisation (lower is better)", ylim=(-0.05, 1.05),
                    xlabel="layers randomised, from the output down",
                    ylabel="Spearman ρ of |map| to the original")
        axes[2].legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
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
