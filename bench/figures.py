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


