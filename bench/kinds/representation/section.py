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
from bench.kinds.attribution_calls import LEFT_OUT
from bench.kinds.representation.job import (
    ACTIVATIONS_VIEW,
    FEATURES_VIEW,
    FILTERS_VIEW,
    NEIGHBOUR_AGREEMENT_FEATURES,
    NEIGHBOUR_AGREEMENT_PIXELS,
    PATCHES_VIEW,
    RECEPTIVE_FIELD,
    VIEW,
    VIEWS,
)

#: how each view is named on the page, where the job left it out
VIEW_TITLES = {FILTERS_VIEW: "first-layer filters", ACTIVATIONS_VIEW: "activations",
               PATCHES_VIEW: "top patches", FEATURES_VIEW: "penultimate features"}


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Per job: its model, both figures, the sample size, the neighbours' class agreement in
    each space, the receptive field, the two layers shown and the views left out, each with
    its reason."""
    out = []
    for job_id, job in rows.groupby("job_id", sort=False):
        art = artifact(job_id, VIEWS)
        left = left_out(job)
        metrics = job[job["metric"] != LEFT_OUT].set_index("metric")["value"]
        out.append({
            "model": job["model_label"].iloc[0],
            "figure": views_figure(art, left),
            "neighbours": neighbours_figure(art),
            "left_out": [{"view": VIEW_TITLES.get(v, v), "reason": r} for v, r in left.items()],
            "n": len(art["labels"]),
            "agree_features": metrics.get(NEIGHBOUR_AGREEMENT_FEATURES),
            "agree_pixels": metrics.get(NEIGHBOUR_AGREEMENT_PIXELS),
            "receptive_field": metrics.get(RECEPTIVE_FIELD),
            "layers": [str(s) for s in art["layers"]],
        })
    return out


def left_out(job: pd.DataFrame) -> dict[str, str]:
    """The views a job left out -> why (runs stored before views could be left out: none)."""
    if VIEW not in job:
        return {}
    out = job[job["metric"] == LEFT_OUT]
    return {str(r[VIEW]): str(r.get("reason", "")) for _, r in out.iterrows()}


def _left_out_panel(ax: plt.Axes, title: str, reason: str) -> None:
    """Where a view would be: its title and why it was left out."""
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, f"left out:\n{_wrapped(reason)}", ha="center", va="center",
            fontsize=8, transform=ax.transAxes, wrap=True)


def _wrapped(text: str, width: int = 48) -> str:
    """``text`` broken into lines of at most about ``width`` characters."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def patch_tiles(art: dict[str, np.ndarray]) -> list[list[np.ndarray]]:
    """Each channel's top patches, each cropped to the part inside the image (a field that
    spills over the border is clipped, not shown with the padding around a small picture),
    and scaled to its own range; runs stored before the crop was kept show whole patches."""
    patches = art["patches"]  # (channels, k, C, rh, rw)
    inside = art.get("patch_inside")  # (channels, k, 4) top, left, height, width
    rows = []
    for c, channel in enumerate(patches):
        tiles = []
        for r, patch in enumerate(channel):
            if inside is not None:
                top, left, height, width = (int(v) for v in inside[c, r])
                if height > 0 and width > 0:
                    patch = patch[:, top:top + height, left:left + width]
            tiles.append(_unit(patch))
        rows.append(tiles)
    return rows


def _patch_mosaic(rows: list[list[np.ndarray]]) -> np.ndarray:
    """The tiles on one canvas, each resized (nearest) to the largest tile's size."""
    side_h = max(t.shape[1] for row in rows for t in row)
    side_w = max(t.shape[2] for row in rows for t in row)

    def fit(t: np.ndarray) -> np.ndarray:
        ri = (np.arange(side_h) * t.shape[1] // side_h)
        ci = (np.arange(side_w) * t.shape[2] // side_w)
        return t[:, ri][:, :, ci]

    return np.concatenate([np.concatenate([fit(t) for t in row], axis=-1) for row in rows],
                          axis=-2)


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


def views_figure(art: dict[str, np.ndarray], left: dict[str, str] | None = None) -> str:
    """Top: filters, one image's activations, occlusion heat maps. Middle: patches, t-SNE.
    Bottom (runs that stored it): each channel's activation under the moving occluder. A
    view the job left out (``left``: view -> reason) shows its reason in its place."""
    left = left or {}
    live = "occluded_activations" in art  # absent from runs stored before it existed
    with house_style():
        fig = plt.figure(figsize=(13.5, 12.2 if live else 8.6))
        heights = [1, 1.15, 0.9] if live else [1, 1.15]
        grid = fig.add_gridspec(len(heights), 6, height_ratios=heights, hspace=0.35, wspace=0.25)
        _first_layer_row(fig, grid, art, left)
        _deep_row(fig, grid, art, left)
        if live:
            _live_row(fig, grid, art)
        return to_data_uri(fig)


def _first_layer_row(fig: Figure, grid: GridSpec, art: dict[str, np.ndarray],
                     left: dict[str, str]) -> None:
    """The filters, one image and its first-layer activations, the occlusion heat maps."""
    ax = fig.add_subplot(grid[0, 0:2])
    if "filters" in art:
        show_image(ax, filters_image(art["filters"]))
        ax.set_title("first-layer filters")
    else:
        _left_out_panel(ax, "first-layer filters", left.get(FILTERS_VIEW, "not stored"))
    ax = fig.add_subplot(grid[0, 2])
    show_image(ax, art["activation_image"], vmin=0, vmax=1)
    ax.set_title("image")
    ax = fig.add_subplot(grid[0, 3:5])
    if "activations" in art:
        show_image(ax, _unit(art["activations"]), cmap="gray")
        ax.set_title(f"its activations at\n{art['layers'][0]}")
    else:
        _left_out_panel(ax, "its activations", left.get(ACTIVATIONS_VIEW, "not stored"))
    occ = fig.add_subplot(grid[0, 5])
    # each map scaled to its own range: a confident model may lose only a few percent
    heat = np.concatenate([_unit(m) for m in art["occlusion"]], axis=0)  # stacked
    occ.imshow(heat, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    occ.set_xticks([])
    occ.set_yticks([])
    lowest = ", ".join(f"{float(m.min()):.2f}" for m in art["occlusion"])
    occ.set_title(f"p(true class) under\nthe occluder (min {lowest})", fontsize=9)


def _deep_row(fig: Figure, grid: GridSpec, art: dict[str, np.ndarray],
              left: dict[str, str]) -> None:
    """The top patches of the patch layer's first channels, the t-SNE by class."""
    ax = fig.add_subplot(grid[1, 0:3])
    if "patches" in art:
        show_image(ax, _patch_mosaic(patch_tiles(art)))
        ax.set_title(f"top patches of channels 0-{len(art['patches']) - 1} at "
                     f"{art['layers'][1]}")
    else:
        at = f" at {art['layers'][1]}" if art["layers"][1] else ""
        _left_out_panel(ax, f"top patches{at}", left.get(PATCHES_VIEW, "not stored"))
    ax = fig.add_subplot(grid[1, 3:6])
    if "embedding" not in art:
        _left_out_panel(ax, "t-SNE of penultimate features",
                        left.get(FEATURES_VIEW, "not stored"))
        return
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
    queries, pixels = art["queries"], art["pixel_neighbours"]
    # without features (left out), the feature-space columns stay blank
    feats = art.get("feature_neighbours")
    q, k = pixels.shape[:2]
    with house_style():
        fig, axes = plt.subplots(q, 2 * k + 1, figsize=(0.95 * (2 * k + 1), 1.0 * q + 0.4),
                                 squeeze=False)
        for i in range(q):
            show_image(axes[i, 0], queries[i], vmin=0, vmax=1)
            for j in range(k):
                if feats is not None:
                    show_image(axes[i, 1 + j], feats[i, j], vmin=0, vmax=1)
                else:
                    axes[i, 1 + j].set_axis_off()
                show_image(axes[i, 1 + k + j], pixels[i, j], vmin=0, vmax=1)
        axes[0, 0].set_title("query", fontsize=9)
        axes[0, 1 + k // 2].set_title("nearest in feature space", fontsize=9)
        axes[0, 1 + k + k // 2].set_title("nearest in pixel space", fontsize=9)
        fig.subplots_adjust(wspace=0.05, hspace=0.05)
        return to_data_uri(fig)
