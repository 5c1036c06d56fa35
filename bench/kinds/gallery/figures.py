"""Figures of images made by optimisation (CS231n lecture 9, second half): class models per
regulariser, channel visualisations, inversion from every depth, a dream, a stylised photo,
and the objectives they minimised. Every part is optional: a figure is ``None`` when the
gallery artifact lacks it (dream and style exist only for colour models)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.figures import (
    PALETTE,
    WIDTH,
    category_ticks,
    house_style,
    label_depth,
    log_y,
    mosaic,
    shared_prefix,
    shorten,
    show_image,
    stretch,
    thinned,
    tick_style,
    to_data_uri,
    two_lines,
)
from bench.kinds.gallery.job import STYLE
from generative.registry import METHODS

#: how the page names style transfer's optimizers (others by their own name)
OPTIMIZER_TITLES = {"lbfgs": "L-BFGS", "adam": "Adam"}
#: one loss panel: title, x label, and its lines (label, x, y)
Panel = tuple[str, str, list[tuple[str, np.ndarray, np.ndarray]]]
#: inversions per row of the figure, and at most this many shown (evenly spread)
INVERSION_COLUMNS, MAX_INVERSIONS = 8, 31
#: an inversion's title: its layer over at most two lines of this many characters
INVERSION_TITLE = 16
#: class models: at most this many classes (columns) shown
MAX_CLASS_COLUMNS = 20
#: a loss panel names each trace up to this many
MAX_LEGEND = 8


def optimizer_title(optimizer: str) -> str:
    return OPTIMIZER_TITLES.get(optimizer, optimizer)


def style_optimizers() -> tuple[str, ...]:
    """The optimizers style transfer takes, in its signature's order (the job runs each)."""
    return METHODS.get(STYLE).optimizers


def _grid(images: np.ndarray, row_labels: list[str], col_labels: list[str] | None,
          cell: float) -> str:
    """``(R, K, C, H, W)`` images, each stretched, as one canvas with labelled rows."""
    rows, cols = images.shape[:2]
    h, w = images.shape[-2:]
    pad = max(w // 12, 1)
    canvas = mosaic(np.stack([[stretch(im) for im in row] for row in images]), pad, pad)
    width = min(cell * cols, WIDTH - 1.6)
    height = width * canvas.shape[0] / canvas.shape[1]
    names = [shorten(c, 16, middle=False) for c in col_labels or []]
    above = label_depth(names, tick_style(names, width)) + 0.3 if col_labels else 0.15
    with house_style():
        fig, ax = plt.subplots(figsize=(width + 1.6, height + above))
        if canvas.shape[-1] == 1:
            ax.imshow(canvas[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.imshow(canvas, interpolation="nearest")
        ax.grid(False)
        ax.set_yticks([i * (h + pad) + h / 2 for i in range(rows)], row_labels)
        ax.tick_params(length=0, labelsize=9)
        if col_labels:
            category_ticks(ax, [j * (w + pad) + w / 2 for j in range(cols)], names,
                           inches=width, top=True)
        else:
            ax.set_xticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        fig.tight_layout()
        return to_data_uri(fig)


def class_model_ids(art: dict[str, np.ndarray]) -> list[int]:
    """The classes of the class models, in column order: as the job kept them, else (runs
    stored before it did) the model's first classes."""
    k = art["class_models"].shape[1] if "class_models" in art else 0
    ids = [int(c) for c in art["class_ids"]] if "class_ids" in art else list(range(k))
    return ids[:k]


def class_models_shown(art: dict[str, np.ndarray]) -> list[str]:
    """The names of the classes whose models the figure shows, in its column order: at most
    ``MAX_CLASS_COLUMNS``."""
    names = [str(c) for c in art.get("class_names", [])]
    return [names[c] if c < len(names) else f"class {c}"
            for c in class_model_ids(art)[:MAX_CLASS_COLUMNS]]


def class_models_figure(art: dict[str, np.ndarray], probability: dict[str, float]) -> str | None:
    """Rows: regulariser variants (with the mean target probability); columns: classes."""
    if "class_models" not in art:
        return None
    variants = [str(v) for v in art["class_variants"]]
    names = class_models_shown(art)
    labels = [f"{v}\np̄ = {probability[v]:.2f}" if v in probability else v for v in variants]
    return _grid(art["class_models"][:, :len(names)], labels, names, cell=0.75)


def neurons_figure(art: dict[str, np.ndarray]) -> str | None:
    """One row per layer, one image per channel."""
    if "neurons" not in art:
        return None
    layers = [str(s) for s in art.get("neuron_layers", [])]
    labels = [layers[i] if i < len(layers) else f"layer {i}" for i in range(len(art["neurons"]))]
    return _grid(art["neurons"], labels, [f"channel {u}" for u in range(art["neurons"].shape[1])],
                 cell=1.0)


def pixel_rmse(original: np.ndarray, image: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(image) - np.asarray(original)) ** 2)))


def inversion_shown(count: int) -> list[int]:
    """Which of ``count`` inversions the figure shows: all up to ``MAX_INVERSIONS``, else that
    many evenly spread from the shallowest to the deepest (older runs kept up to ~80)."""
    if count <= MAX_INVERSIONS:
        return list(range(count))
    return [int(i) for i in np.linspace(0, count - 1, MAX_INVERSIONS).round()]


def inversion_figure(art: dict[str, np.ndarray]) -> str | None:
    """The original, then the image reconstructed from each layer's code (shallow to deep),
    wrapped into rows of at most ``INVERSION_COLUMNS`` cells, so that every title has room;
    the layers' names without the module path they all share."""
    if "inversions" not in art:
        return None
    original, inversions = art["inversion_original"], art["inversions"]
    layers = [str(s) for s in art["inversion_layers"]][:len(inversions)]
    layers += [f"layer {i}" for i in range(len(layers), len(inversions))]
    prefix = shared_prefix(layers)
    shown = inversion_shown(len(inversions))
    n = len(shown) + 1
    cols = min(n, INVERSION_COLUMNS)
    rows = math.ceil(n / cols)
    cell = min(1.45, WIDTH / cols)
    with house_style():
        fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, (cell + 0.7) * rows),
                                 squeeze=False)
        show_image(axes[0, 0], original, vmin=0, vmax=1)
        axes[0, 0].set_title("original", fontsize=9)
        for ax, i in zip(axes.flat[1:], shown, strict=False):
            image = inversions[i]
            show_image(ax, np.clip(np.nan_to_num(image), 0, 1), vmin=0, vmax=1)
            name = two_lines(layers[i][len(prefix):], INVERSION_TITLE)
            ax.set_title(f"{name}\nRMSE {pixel_rmse(original, image):.3f}", fontsize=8)
        for ax in axes.flat[n:]:
            ax.axis("off")
        fig.tight_layout(w_pad=0.3)
        return to_data_uri(fig)


def photos_figure(art: dict[str, np.ndarray]) -> str | None:
    """DeepDream (source, dream) and style transfer (content, style, one result per
    optimizer)."""
    titles = [("dream_source", "dream: source"), ("dream", "dream"),
              ("style_content", "style: content"), ("style_style", "style image")]
    titles += [(f"style_{o}", f"{optimizer_title(o)} result") for o in style_optimizers()]
    panels = [(key, title) for key, title in titles if key in art]
    if not panels:
        return None
    cell = min(1.75, WIDTH / len(panels))
    with house_style():
        fig, axes = plt.subplots(1, len(panels), figsize=(cell * len(panels), cell + 0.4),
                                 squeeze=False)
        for ax, (key, title) in zip(axes[0], panels, strict=True):
            show_image(ax, np.clip(np.nan_to_num(art[key]), 0, 1), vmin=0, vmax=1)
            ax.set_title(title, fontsize=9)
        fig.tight_layout(w_pad=0.4)
        return to_data_uri(fig)


def loss_panels(art: dict[str, np.ndarray], *, evaluations: dict[str, float],
                dream_steps: int | None) -> list[Panel]:
    """One panel per method the artifact holds traces of, in the page's order."""
    panels: list[Panel] = []
    if "class_losses" in art:
        panels.append(("class models", "step", [
            (str(v), np.arange(len(t)), t)
            for v, t in zip(art["class_variants"], art["class_losses"], strict=False)]))
    neurons = [(str(layer), art[f"neuron_{i}_losses"]) for i, layer in
               enumerate(art.get("neuron_layers", [])) if f"neuron_{i}_losses" in art]
    if neurons:
        panels.append(("channel visualisations", "step",
                       [(name, np.arange(len(t)), t) for name, t in neurons]))
    if "inversion_losses" in art:
        panels.append(("inversion, by layer", "step", [
            (str(layer), np.arange(len(t)), t)
            for layer, t in zip(art["inversion_layers"], art["inversion_losses"], strict=False)]))
    style = []
    for opt in style_optimizers():
        if f"style_{opt}_losses" in art:
            t = art[f"style_{opt}_losses"]
            total = evaluations.get(opt) or (len(t) - 1)
            style.append((optimizer_title(opt), np.linspace(0, total, len(t)), t))
    if style:
        # against passes, not steps: L-BFGS evaluates several times a step
        panels.append(("style transfer", "forward+backward passes", style))
    if "dream_losses" in art:
        t = art["dream_losses"]
        per = dream_steps + 1 if dream_steps and len(t) % (dream_steps + 1) == 0 else len(t)
        panels.append(("DeepDream, by octave", "step", [
            (f"octave {i + 1}", np.arange(per), t[i * per:(i + 1) * per])
            for i in range(len(t) // per)]))
    return panels


def losses_figure(art: dict[str, np.ndarray], *, evaluations: dict[str, float],
                  dream_steps: int | None) -> str | None:
    """Small panels, one per method: the objective each optimisation minimised."""
    panels = loss_panels(art, evaluations=evaluations, dream_steps=dream_steps)
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    with house_style():
        fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 2.7 * rows), squeeze=False)
        for ax, (title, xlabel, lines) in zip(axes.flat, panels, strict=False):
            _lines(ax, lines)
            log_y(ax, pd.Series(np.concatenate([y for _, _, y in lines])))
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(xlabel, fontsize=9)
            ax.tick_params(labelsize=8)
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
        axes[0, 0].set_ylabel("objective (minimised)", fontsize=9)
        fig.tight_layout()
        return to_data_uri(fig)


def _lines(ax: plt.Axes, lines: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    """A panel's traces and legend. Past ``MAX_LEGEND`` traces (a run that inverted every
    layer of a deep network), the colours run shallow to deep along one colour map and the
    legend names a few evenly spread, its title saying how many of how many."""
    many = len(lines) > MAX_LEGEND
    colours = (plt.get_cmap("viridis")(np.linspace(0, 0.9, len(lines))) if many
               else [PALETTE[i % len(PALETTE)] for i in range(len(lines))])
    named = thinned(len(lines), MAX_LEGEND // 2) if many else range(len(lines))
    prefix = shared_prefix([label for label, _, _ in lines])
    handles = []
    for i, (label, x, y) in enumerate(lines):
        (line,) = ax.plot(x, y, color=colours[i], linewidth=1.0 if many else 1.3,
                          label=shorten(label[len(prefix):], 20))
        if i in named:
            handles.append(line)
    # more than a few names would cover the traces: they go below the panel
    below = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.22)} if len(handles) > 4 else {}
    ax.legend(handles=handles, fontsize=7, ncol=2 if len(handles) > 4 else 1,
              handlelength=1.2, frameon=True, framealpha=0.85, edgecolor="none", **below,
              title=f"{len(handles)} of {len(lines)} named" + (f", in {prefix}…" if prefix
                                                                 else "") if many else None,
              title_fontsize=7)
