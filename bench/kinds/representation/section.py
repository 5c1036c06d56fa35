"""The representation section: per job, the filters, activations, maximally activating
patches, the t-SNE of the penultimate features and the occlusion maps in one figure, and the
nearest neighbours in feature and pixel space in another (CS231n lecture 9, first part).

The job stores raw values; the display scaling lives here (``filter_grid``, ``_unit``)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec

from attribution.views import tile
from bench.figures import PALETTE, house_style, show_image, to_data_uri
from bench.kind import ArtifactLoader
from bench.kinds.representation.job import (
    NEIGHBOUR_AGREEMENT_FEATURES,
    NEIGHBOUR_AGREEMENT_PIXELS,
    RECEPTIVE_FIELD,
    VIEWS,
)


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Per job: its model, both figures, the sample size, the neighbours' class agreement in
    each space, the receptive field and the two layers shown."""
    out = []
    for job_id, job in rows.groupby("job_id", sort=False):
        art = artifact(job_id, VIEWS)
        metrics = job.set_index("metric")["value"]
        out.append({
            "model": job["model_label"].iloc[0],
            "figure": views_figure(art),
            "neighbours": neighbours_figure(art),
            "n": len(art["labels"]),
            "agree_features": metrics.get(NEIGHBOUR_AGREEMENT_FEATURES),
            "agree_pixels": metrics.get(NEIGHBOUR_AGREEMENT_PIXELS),
            "receptive_field": metrics.get(RECEPTIVE_FIELD),
            "layers": [str(s) for s in art["layers"]],
        })
    return out


def filter_grid(filters: np.ndarray, *, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile filters into one image, each filter min-max scaled to ``[0, 1]`` on its own.

    Per-filter scaling, as in the lecture's AlexNet figure: filters differ in norm by an
    order of magnitude, and one shared scale would leave most of them flat grey. A constant
    filter becomes mid grey (0.5). Three-channel filters stay RGB tiles; any other channel
    count is shown as one grey tile per (filter, channel), a row per filter by default, with
    the scaling still shared across the channels of one filter. Padding is 0 (black).

    Shape:
        - filters: ``(K, C, kh, kw)``; returns ``(3, H, W)`` when ``C == 3``, else ``(1, H, W)``.
    """
    if not isinstance(filters, np.ndarray) or filters.ndim != 4 or filters.size == 0:
        shape = filters.shape if isinstance(filters, np.ndarray) else type(filters)
        raise ValueError(f"filters must be a non-empty array (K, C, kh, kw), got {shape}")
    if not np.issubdtype(filters.dtype, np.floating) or not np.isfinite(filters).all():
        raise ValueError("filters must be finite floating-point values")
    k, c = filters.shape[:2]
    lo = filters.min(axis=(1, 2, 3), keepdims=True)
    span = filters.max(axis=(1, 2, 3), keepdims=True) - lo
    scaled = np.divide(filters - lo, span, out=np.full_like(filters, 0.5),
                       where=np.broadcast_to(span > 0, filters.shape))
    if c != 3:
        ncols = c if ncols is None and c > 1 else ncols
        scaled = scaled.reshape(k * c, 1, *filters.shape[2:])
    return tile(torch.from_numpy(scaled), ncols, pad).numpy()


def filters_image(filters: np.ndarray) -> np.ndarray:
    """The stored filters as one image: raw weights ``(K, C, kh, kw)`` tiled by
    ``filter_grid``; a run stored before the job kept raw weights holds the tiled
    ``(C, H, W)`` image already, shown as it is."""
    return filters if filters.ndim == 3 else filter_grid(filters)


def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def views_figure(art: dict[str, np.ndarray]) -> str:
    """Top: filters, one image's activations, occlusion heat maps. Middle: patches, t-SNE.
    Bottom (runs that stored it): each channel's activation under the moving occluder."""
    live = "occluded_activations" in art  # absent from runs stored before it existed
    with house_style():
        fig = plt.figure(figsize=(13.5, 12.2 if live else 8.6))
        heights = [1, 1.15, 0.9] if live else [1, 1.15]
        grid = fig.add_gridspec(len(heights), 6, height_ratios=heights, hspace=0.35, wspace=0.25)
        _first_layer_row(fig, grid, art)
        _deep_row(fig, grid, art)
        if live:
            _live_row(fig, grid, art)
        return to_data_uri(fig)


def _first_layer_row(fig: Figure, grid: GridSpec, art: dict[str, np.ndarray]) -> None:
    """The filters, one image and its first-layer activations, the occlusion heat maps."""
    ax = fig.add_subplot(grid[0, 0:2])
    show_image(ax, filters_image(art["filters"]))
    ax.set_title("first-layer filters")
    ax = fig.add_subplot(grid[0, 2])
    show_image(ax, art["activation_image"], vmin=0, vmax=1)
    ax.set_title("image")
    ax = fig.add_subplot(grid[0, 3:5])
    show_image(ax, _unit(art["activations"]), cmap="gray")
    ax.set_title(f"its activations at {art['layers'][0]}")
    occ = fig.add_subplot(grid[0, 5])
    # each map scaled to its own range: a confident model may lose only a few percent
    heat = np.concatenate([_unit(m) for m in art["occlusion"]], axis=0)  # stacked
    occ.imshow(heat, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    occ.set_xticks([])
    occ.set_yticks([])
    lowest = ", ".join(f"{float(m.min()):.2f}" for m in art["occlusion"])
    occ.set_title(f"p(true class) under\nthe occluder (min {lowest})", fontsize=9)


def _deep_row(fig: Figure, grid: GridSpec, art: dict[str, np.ndarray]) -> None:
    """The top patches of the last convolution's first channels, the t-SNE by class."""
    patches = art["patches"]  # (channels, k, C, rh, rw)
    rows = [np.concatenate([_unit(p) for p in channel], axis=-1) for channel in patches]
    ax = fig.add_subplot(grid[1, 0:3])
    show_image(ax, np.concatenate(rows, axis=-2))
    ax.set_title(f"top patches of channels 0-{len(patches) - 1} at {art['layers'][1]}")
    ax = fig.add_subplot(grid[1, 3:6])
    names = [str(c) for c in art["class_names"]]
    emb, labels = art["embedding"], art["labels"]
    for c in np.unique(labels):
        pts = emb[labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=7, color=PALETTE[int(c) % len(PALETTE)]
                   if len(names) <= len(PALETTE) else plt.cm.tab10(int(c) % 10),
                   label=names[int(c)])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("t-SNE of penultimate features")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2)


def _live_row(fig: Figure, grid: GridSpec, art: dict[str, np.ndarray]) -> None:
    """The live-neuron demo: one small map per first-layer channel, each channel scaled to
    its own range."""
    moved = art["occluded_activations"]  # (K, gh, gw), one map per channel
    cols = min(16, len(moved))
    rows = -(-len(moved) // cols)
    h, w = moved.shape[1] + 1, moved.shape[2] + 1
    tiles = np.zeros((rows * h, cols * w))
    for c, channel in enumerate(moved):
        r, q = divmod(c, cols)
        tiles[r * h:(r + 1) * h - 1, q * w:(q + 1) * w - 1] = _unit(channel)
    ax = fig.add_subplot(grid[2, :])
    ax.imshow(tiles, cmap="viridis", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"mean activation of each channel at {art['layers'][0]} as a grey square "
                 "covers each position of the image above (dark: covering there silences it)")


def neighbours_figure(art: dict[str, np.ndarray]) -> str:
    """Each row: a query, its nearest neighbours in feature space, then in pixel space."""
    queries, feats, pixels = art["queries"], art["feature_neighbours"], art["pixel_neighbours"]
    q, k = feats.shape[:2]
    with house_style():
        fig, axes = plt.subplots(q, 2 * k + 1, figsize=(0.95 * (2 * k + 1), 1.0 * q + 0.4),
                                 squeeze=False)
        for i in range(q):
            show_image(axes[i, 0], queries[i], vmin=0, vmax=1)
            for j in range(k):
                show_image(axes[i, 1 + j], feats[i, j], vmin=0, vmax=1)
                show_image(axes[i, 1 + k + j], pixels[i, j], vmin=0, vmax=1)
        axes[0, 0].set_title("query", fontsize=9)
        axes[0, 1 + k // 2].set_title("nearest in feature space", fontsize=9)
        axes[0, 1 + k + k // 2].set_title("nearest in pixel space", fontsize=9)
        fig.subplots_adjust(wspace=0.05, hspace=0.05)
        return to_data_uri(fig)
