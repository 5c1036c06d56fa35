"""The examples section: per job, a grid of clean images, adversarial images and the
amplified perturbation, with the model's prediction under each."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.figures import (
    BAD,
    GOOD,
    NORM_TITLES,
    house_style,
    shorten,
    show_image,
    to_data_uri,
)
from bench.kind import ArtifactLoader
from bench.kinds.examples.job import EXAMPLES


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """One entry per examples job: its model, attack, threat model and figure."""
    out = []
    for job_id, job in rows.groupby("job_id", sort=False):
        first = job.iloc[0]
        art = artifact(job_id, EXAMPLES)
        out.append({
            "model": first["model_label"], "attack": first["method"], "norm": first["norm"],
            "norm_title": NORM_TITLES.get(first["norm"], first["norm"]),
            "eps": float(first["eps"]), **shown_counts(art),
            "figure": examples_figure(art, eps=float(first["eps"]), norm=first["norm"]),
        })
    return out


def shown_counts(art: dict[str, np.ndarray]) -> dict[str, int]:
    """What the caption says, counted on the images shown: how many there are, how many the
    model gets right, and how many of those the attack fools."""
    right = np.asarray(art["pred"]) == np.asarray(art["label"])
    fooled = right & (np.asarray(art["pred_adv"]) != np.asarray(art["label"]))
    return {"shown": int(right.size), "correct": int(right.sum()), "fooled": int(fooled.sum())}


def _perturbation(delta: np.ndarray) -> np.ndarray:
    """Signed perturbation summed over channels ``(1, H, W)``: red adds, blue removes."""
    return delta.sum(axis=0, keepdims=True)


def examples_figure(art: dict[str, np.ndarray], *, eps: float, norm: str) -> str:
    """Columns are examples; rows are clean, adversarial, and the amplified perturbation.

    Under each image: the predicted class and its probability (green when it is the true
    class, red when not).
    """
    names = [str(c) for c in art["class_names"]]
    n = art["clean"].shape[0]
    scale = float(np.abs(art["perturbation"]).max()) or 1.0  # amplify to the full colour range
    with house_style():
        fig, axes = plt.subplots(3, n, figsize=(1.3 * n + 1.0, 4.8), squeeze=False)
        for i in range(n):
            _example_column(axes[:, i], art, i, names, scale, norm)
        for row, text in enumerate(("clean", "adversarial", f"δ, ×{1 / scale:.1f}")):
            axes[row, 0].set_ylabel(text, fontsize=10, labelpad=6)
        fig.tight_layout(h_pad=0.8, w_pad=0.4)
        return to_data_uri(fig)


def _example_column(axes: np.ndarray, art: dict[str, np.ndarray], i: int, names: list[str],
                    scale: float, norm: str) -> None:
    """Example ``i``: clean and adversarial image with predictions, then its perturbation."""
    label = int(art["label"][i])
    cells = [
        (art["clean"][i], int(art["pred"][i]), float(art["confidence"][i])),
        (art["adversarial"][i], int(art["pred_adv"][i]), float(art["confidence_adv"][i])),
    ]
    for ax, (image, pred, conf) in zip(axes, cells, strict=False):
        show_image(ax, image, vmin=0, vmax=1)
        ax.set_xlabel(f"{shorten(names[pred], 16, middle=False)}  {conf:.0%}",
                      color=GOOD if pred == label else BAD, fontsize=10, labelpad=3)
    delta = art["perturbation"][i]
    show_image(axes[2], _perturbation(delta), cmap="RdBu_r", vmin=-scale, vmax=scale)
    if norm == "linf":
        size, which = float(np.abs(delta).max()), "∞"
    else:
        size, which = float(np.linalg.norm(delta)), "₂"
    axes[2].set_xlabel(f"‖δ‖{which} = {size:.2f}", fontsize=9, labelpad=3)
    axes[0].set_title(f"true {shorten(names[label], 16, middle=False)}", fontsize=10)
