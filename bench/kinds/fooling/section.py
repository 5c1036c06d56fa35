"""The fooling section: per job, the grid of source images pushed toward every target class,
with the model's probability for the target under each cell."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.figures import (
    BAD,
    GOOD,
    NORM_TITLES,
    WIDTH,
    category_ticks,
    house_style,
    mosaic,
    name_list,
    shorten,
    to_data_uri,
)
from bench.kind import ArtifactLoader
from bench.kinds.fooling.job import AUTO_CLASSES, FOOLING

#: classes (rows and columns) of a grid the page shows: a suite may name more
MAX_GRID = AUTO_CLASSES


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """One entry per fooling job: its model, threat model, steps, what the grid shows (its
    classes, how many of its off-diagonal cells reach their target) and the figure, ``None``
    when fewer than two classes leave no cell to show."""
    out = []
    for job_id, job in rows.groupby("job_id", sort=False):
        first = job.iloc[0]
        art = shown_grid(artifact(job_id, FOOLING))
        names = [str(c) for c in art["class_names"]]
        success = np.asarray(art["success"], dtype=bool)
        off = ~np.eye(len(success), dtype=bool)  # the diagonal holds the clean sources
        out.append({
            "model": first["model_label"], "norm": NORM_TITLES.get(first["norm"], first["norm"]),
            "eps": float(first["eps"]), "steps": first["steps"] if "steps" in job else None,
            "cells": int(off.sum()), "reached": int(success[off].sum()),
            "classes": len(success), "of": int(art["of"]), "model_classes": len(names),
            "sampled": int(art["sampled"][0]) if "sampled" in art else None,
            "names": name_list([names[c] if 0 <= c < len(names) else str(c)
                                for c in art["classes"]]),
            "figure": fooling_figure(art) if len(success) > 1 else None,
        })
    return out


def shown_grid(art: dict[str, np.ndarray]) -> dict[str, Any]:
    """The part of a stored grid the page shows: its first ``MAX_GRID`` classes (rows and
    columns alike), with ``of``, how many the grid has."""
    classes = np.asarray(art["classes"]).astype(int).ravel()
    k = min(len(classes), MAX_GRID)
    out: dict[str, Any] = {"class_names": art["class_names"], "classes": classes[:k],
                           "of": len(classes)}
    if "sampled" in art:  # an empty grid: how many images the model got none of right
        out["sampled"] = art["sampled"]
    for key in ("images", "target_prob", "success"):
        out[key] = np.asarray(art[key])[:k, :k]
    return out


def fooling_figure(art: dict[str, np.ndarray]) -> str:
    """Rows are source images, columns target classes; under each cell the probability of
    the column's class (green when it is the model's prediction). The diagonal is clean.
    Cells shrink so that the grid fits the page's width.
    """
    names = [str(c) for c in art["class_names"]]
    classes = [int(c) for c in art["classes"]]
    images = art["images"]
    k = len(classes)
    h, w = images.shape[-2:]
    pad_x, pad_y = max(w // 7, 2), max(h // 3, 4)  # the caption goes under each image
    canvas = mosaic(images, pad_x, pad_y)
    width = min(0.9 if k > 6 else 1.2, (WIDTH - 1.6) / k) * k  # inches for the grid itself
    labels = [shorten(names[c] if 0 <= c < len(names) else str(c), 14, middle=False)
              for c in classes]
    with house_style():
        fig, ax = plt.subplots(
            figsize=(width + 1.6, width * canvas.shape[0] / canvas.shape[1] + 0.8))
        if canvas.shape[-1] == 1:
            ax.imshow(canvas[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.imshow(canvas, interpolation="nearest")
        ax.grid(False)
        _captions(ax, art, k, (h, w), (pad_x, pad_y))
        ax.tick_params(length=0, labelsize=10 if k <= 6 else 8)
        category_ticks(ax, [j * (w + pad_x) + w / 2 for j in range(k)],
                       [f"→ {name}" for name in labels], inches=width, top=True)
        ax.set_yticks([i * (h + pad_y) + h / 2 for i in range(k)], labels)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel("target class (caption: the model's probability for it)", fontsize=9)
        ax.set_ylabel("source image, by true class", fontsize=9)
        fig.tight_layout()
        return to_data_uri(fig)


def _captions(ax: plt.Axes, art: dict[str, np.ndarray], k: int, size: tuple[int, int],
              pad: tuple[int, int]) -> None:
    """Each cell's target probability under it, and an orange frame on the clean diagonal."""
    (h, w), (pad_x, pad_y) = size, pad
    prob, success = art["target_prob"], art["success"]
    for i in range(k):
        for j in range(k):
            x, y = j * (w + pad_x) + w / 2, i * (h + pad_y) + h + pad_y * 0.5
            colour = "#555555" if i == j else (GOOD if success[i, j] else BAD)
            ax.text(x, y, f"{prob[i, j]:.2f}", ha="center", va="center", fontsize=9,
                    color=colour)
        ax.add_patch(plt.Rectangle((i * (w + pad_x) - 0.5, i * (h + pad_y) - 0.5), w, h,
                                   fill=False, edgecolor="#f0a202", linewidth=1.5))
