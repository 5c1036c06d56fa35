"""Matplotlib plumbing the kinds' sections and the report share: the Agg backend, one house
style, figures as data URIs (the page needs no other file), images and image mosaics, and log
axes with plain tick labels. Display scaling lives here and in the sections, never in the
methods, which return raw values."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")  # headless: figures are rendered to PNG bytes, never shown

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter  # noqa: E402

DPI = 110  # 1 inch of figure = 110 px on the page; the widest figures fit 1124 px
WIDTH = 10.0  # inches: 1100 px at DPI, inside the page's 1124 px
# colour-blind-safe (Okabe and Ito), assigned to attacks in a fixed order across panels
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
GOOD, BAD = "#1a7f37", "#c62828"
NORM_TITLES = {"linf": "L∞", "l2": "L2"}
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


@contextmanager
def house_style() -> Iterator[None]:
    with plt.rc_context(STYLE):
        yield


def to_data_uri(fig: Figure) -> str:
    """PNG bytes of ``fig`` as a ``data:`` URI, so the page needs no other file; closes it."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def color_for(name: str, order: list[str]) -> str:
    return PALETTE[order.index(name) % len(PALETTE)] if name in order else PALETTE[-1]


def show_image(ax: plt.Axes, image: np.ndarray, **kwargs: object) -> None:
    """One ``(C, H, W)`` image, grey for one channel, RGB for three; no ticks."""
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap=kwargs.pop("cmap", "gray"), interpolation="nearest", **kwargs)
    else:
        ax.imshow(np.transpose(image, (1, 2, 0)), interpolation="nearest", **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def mosaic(images: np.ndarray, pad_x: int, pad_y: int) -> np.ndarray:
    """``(R, K, C, H, W)`` images -> one ``(R*(H+pad_y), K*(W+pad_x), C)`` canvas, white gaps.

    One ``imshow`` of a canvas is far faster to lay out than ``R * K`` axes.
    """
    rows, cols, channels, h, w = images.shape
    canvas = np.ones((rows * (h + pad_y), cols * (w + pad_x), channels), dtype=np.float32)
    for i in range(rows):
        for j in range(cols):
            top, left = i * (h + pad_y), j * (w + pad_x)
            canvas[top : top + h, left : left + w] = np.transpose(images[i, j], (1, 2, 0))
    return canvas


def stretch(image: np.ndarray) -> np.ndarray:
    """Contrast-stretch one ``(C, H, W)`` image to ``[0, 1]`` (NaN shown as 0)."""
    image = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(image.min()), float(image.max())
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)


PLAIN = FuncFormatter(lambda v, _: f"{v:.3g}")


def log_y(ax: plt.Axes, values: pd.Series) -> None:
    """Log y with plain tick labels (0.1, 2, 50) when every value is positive."""
    finite = values[np.isfinite(values.astype(float))]
    if len(finite) and (finite > 0).all():
        ax.set_yscale("log")
        lo, hi = float(finite.min()), float(finite.max())
        ax.yaxis.set_major_locator(FixedLocator(_ticks(lo / 1.15, hi * 1.15)))
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(NullFormatter())


def _ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks inside ``[lo, hi]``: powers of ten only over a wide range, finer steps
    when that gives fewer than 3."""
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    if math.log10(hi / lo) > 2.5:
        ticks = [10.0**e for e in decades if lo <= 10.0**e <= hi]
        return ticks[:: math.ceil(len(ticks) / 7)]
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)):
        ticks = [m * 10.0**e for e in decades for m in mantissas if lo <= m * 10.0**e <= hi]
        if len(ticks) >= 3:
            return ticks
    return [float(f"{v:.2g}") for v in ((lo * 1.15, hi / 1.15) if hi > lo else (lo * 1.15,))]


#: at most this many category names in a legend, a grid's header or a caption's list
MAX_NAMED = 12
#: inches a tick label needs along its axis: half a line of upright text, a label turned 90°
#: at 7 pt, one slanted 40° at 8 pt
LABEL_PITCH, TURNED_PITCH, SLANTED_PITCH = 0.1, 0.15, 0.4
CHARACTER = 0.07  # inches a character of an upright label takes, at up to 10 pt


def shared_prefix(names: list[str]) -> str:
    """The dotted module path every name starts with (``net.`` of ``net.layer1``,
    ``net.fc``), ending at a dot; ``""`` when there is none or it would empty a name."""
    if len(names) < 2:
        return ""
    parts = [name.split(".") for name in names]
    common = 0
    for column in zip(*parts, strict=False):
        if len(set(column)) > 1:
            break
        common += 1
    common = min(common, min(len(p) for p in parts) - 1)  # keep a part of every name
    # a name should not start with a bare index: ``features.3``, not ``3``
    while common > 0 and any(p[common][:1].isdigit() for p in parts):
        common -= 1
    return ".".join(parts[0][:common]) + "." if common > 0 else ""


def shorten(name: str, limit: int = 22, *, middle: bool = True) -> str:
    """A name cut to ``limit`` characters: in the middle, for a module path
    (``layer4.0.…ample.1``), else at the end, for a class name (``great grey o…``)."""
    if len(name) <= limit:
        return name
    if not middle:
        return name[:limit - 1].rstrip(" ,") + "…"
    head = (limit - 1) // 2
    return name[:head] + "…" + name[len(name) - (limit - 1 - head):]


def two_lines(name: str, width: int) -> str:
    """A module path over at most two lines of ``width`` characters, broken at the last dot
    that makes the first line fit (``blocks.1.0`` / ``conv_pwl``), each line shortened in
    the middle when it is still too long."""
    if len(name) <= width:
        return name
    cuts = [i for i, c in enumerate(name) if c == "." and 0 < i <= width]
    if not cuts:
        return shorten(name, width)
    return f"{name[:cuts[-1]]}\n{shorten(name[cuts[-1] + 1:], width)}"


def thinned(count: int, room: int) -> list[int]:
    """Indexes of ``count`` items to label when ``room`` labels fit: all of them, or every
    k-th, the last always kept (in place of the k-th before it, so no two labels are closer
    than k)."""
    if count <= room:
        return list(range(count))
    step = math.ceil((count - 1) / max(room - 1, 1))
    keep = list(range(0, count, step))
    keep[-1] = count - 1
    return keep


def tick_style(labels: list[str], inches: float, axis: str = "x") -> str:
    """How ``labels`` fit along an axis ``inches`` long: ``upright`` when they do as they
    are (a y axis always), ``slanted`` when a few long names do not, else ``turned`` 90°."""
    if axis == "y" or len(labels) < 2:
        return "upright"
    # each pair of neighbours shares two half slots, with a gap between them
    widest = max(len(a) + len(b) for a, b in zip(labels, labels[1:], strict=False)) / 2
    if widest * CHARACTER + 0.12 <= inches / len(labels):
        return "upright"
    return "slanted" if len(labels) * SLANTED_PITCH <= inches else "turned"


def label_depth(labels: list[str], style: str) -> float:
    """Inches the labels take across their axis (below an x axis) in ``style``."""
    longest = max((len(s) for s in labels), default=0)
    return {"upright": 0.2, "slanted": 0.05 * longest + 0.1, "turned": 0.065 * longest}[style]


def category_ticks(ax: plt.Axes, positions: list[float] | np.ndarray, labels: list[str], *,
                   inches: float, axis: str = "x", top: bool = False) -> list[int]:
    """Name ``len(labels)`` categories along an axis ``inches`` long, readable at any count
    (``tick_style``): upright, slanted, or turned 90° in a smaller font and, beyond what fits
    turned, every k-th (the last always kept); ``top`` puts an x axis's names above it.
    Returns the indexes labelled."""
    positions = list(positions)
    style = tick_style(labels, inches, axis)
    if axis == "y":
        room = int(inches / (2 * LABEL_PITCH))  # a line of text and a gap
    elif style == "upright":
        room = len(labels)  # each already fits its slot
    else:
        room = int(inches / (SLANTED_PITCH if style == "slanted" else TURNED_PITCH))
    keep = thinned(len(labels), max(room, 2))
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    setter([positions[i] for i in keep], [labels[i] for i in keep])
    if top:
        ax.xaxis.tick_top()
    if style == "slanted":
        ax.tick_params(axis=axis, labelsize=8)
        for label in ax.get_xticklabels(which="major"):
            label.set(rotation=40, ha="right", rotation_mode="anchor")
        if top:
            for tick in ax.xaxis.get_major_ticks():
                tick.label2.set(rotation=40, ha="left", rotation_mode="anchor")
    elif style == "turned":
        ax.tick_params(axis=axis, labelrotation=90, labelsize=7)
    return keep


def name_list(names: list[str], limit: int = MAX_NAMED) -> str:
    """Names joined for a caption, at most ``limit`` (``a, b, c, … and 7 more``)."""
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", … and {len(names) - limit} more"
