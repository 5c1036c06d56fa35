"""Matplotlib plumbing for the report: the Agg backend, one house style, figures as data URIs."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")  # headless: figures are rendered to PNG bytes, never shown

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.figure import Figure  # noqa: E402

DPI = 110  # 1 inch of figure = 110 px on the page; the widest figures fit 1124 px
# colour-blind-safe (Okabe and Ito), assigned to attacks in a fixed order across panels
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
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
