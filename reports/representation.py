"""Figures of what a network represents: filters, activations, maximally activating
patches, the t-SNE of its penultimate features, nearest neighbours in feature and pixel
space, and the occlusion heat map of the true class (CS231n lecture 9, first part)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from reports.images import show_image
from reports.plotting import PALETTE, house_style, to_data_uri


def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def views_figure(art: dict[str, np.ndarray]) -> str:
    """Top: filters, one image's activations, occlusion heat maps. Bottom: patches, t-SNE."""
    act_layer, patch_layer = (str(s) for s in art["layers"])
    names = [str(c) for c in art["class_names"]]
    with house_style():
        live = "occluded_activations" in art  # absent from runs stored before it existed
        fig = plt.figure(figsize=(13.5, 12.2 if live else 8.6))
        heights = [1, 1.15, 0.9] if live else [1, 1.15]
        grid = fig.add_gridspec(len(heights), 6, height_ratios=heights, hspace=0.35, wspace=0.25)
        ax = fig.add_subplot(grid[0, 0:2])
        show_image(ax, art["filters"])
        ax.set_title("first-layer filters")
        ax = fig.add_subplot(grid[0, 2])
        show_image(ax, art["activation_image"], vmin=0, vmax=1)
        ax.set_title("image")
        ax = fig.add_subplot(grid[0, 3:5])
        show_image(ax, _unit(art["activations"]), cmap="gray")
        ax.set_title(f"its activations at {act_layer}")
        occ = fig.add_subplot(grid[0, 5])
        # each map scaled to its own range: a confident model may lose only a few percent
        heat = np.concatenate([_unit(m) for m in art["occlusion"]], axis=0)  # stacked
        occ.imshow(heat, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        occ.set_xticks([])
        occ.set_yticks([])
        lowest = ", ".join(f"{float(m.min()):.2f}" for m in art["occlusion"])
        occ.set_title(f"p(true class) under\nthe occluder (min {lowest})", fontsize=9)
        patches = art["patches"]  # (channels, k, C, rh, rw)
        rows = [np.concatenate([_unit(p) for p in channel], axis=-1) for channel in patches]
        ax = fig.add_subplot(grid[1, 0:3])
        show_image(ax, np.concatenate(rows, axis=-2))
        ax.set_title(f"top patches of channels 0-{len(patches) - 1} at {patch_layer}")
        ax = fig.add_subplot(grid[1, 3:6])
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
        if not live:
            return to_data_uri(fig)
        moved = art["occluded_activations"]  # (K, gh, gw), one map per channel
        cols = min(16, len(moved))
        rows = -(-len(moved) // cols)
        tiles = np.zeros((rows * (moved.shape[1] + 1), cols * (moved.shape[2] + 1)))
        for c, channel in enumerate(moved):  # each channel scaled to its own range
            r, q = divmod(c, cols)
            tiles[r * (moved.shape[1] + 1):(r + 1) * (moved.shape[1] + 1) - 1,
                  q * (moved.shape[2] + 1):(q + 1) * (moved.shape[2] + 1) - 1] = _unit(channel)
        ax = fig.add_subplot(grid[2, :])
        ax.imshow(tiles, cmap="viridis", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"mean activation of each channel at {act_layer} as a grey square covers "
                     "each position of the image above (dark: covering there silences it)")
        return to_data_uri(fig)


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
