"""``shapes``: a procedurally generated colour dataset with ground-truth object masks.

Each image holds one labelled shape (circle, square, triangle or cross) in a random colour,
size, position and rotation, over a textured background, with distractors (line segments and
small dots) that never decide the label. The pixel mask of the labelled shape is returned
too, so attribution maps can be scored on where they put their mass.

Every image is drawn from its own generator, seeded by ``(seed, index)``: image ``i`` is the
same whatever the number of images asked for, on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

CLASSES = ("circle", "square", "triangle", "cross")
SPLIT_SEEDS = {"train": 0, "test": 1}
SPLIT_SIZES = {"train": 6000, "test": 1000}
SIZE = 32


@dataclass(frozen=True)
class Shapes:
    """Images ``(N, 3, S, S)`` in ``[0, 1]``, labels ``(N,)``, masks bool ``(N, 1, S, S)``."""

    x: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random texture: a few low-frequency sinusoids per channel around a base tint."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(0.15, 0.85, size=3)
    img = np.empty((3, size, size))
    for c in range(3):
        wave = np.zeros((size, size))
        for _ in range(3):
            fx, fy = rng.uniform(0.5, 4.0, size=2)
            phase = rng.uniform(0, 2 * np.pi)
            wave += np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)
        img[c] = base[c] + 0.08 * wave
    return img


def _rotate(u: np.ndarray, v: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    cos, sin = np.cos(angle), np.sin(angle)
    return cos * u + sin * v, -sin * u + cos * v


def shape_mask(kind: str, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Bool ``(size, size)`` mask of a shape of "radius" ``r`` centred at ``(cx, cy)``."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    u, v = _rotate(xx - cx, yy - cy, angle)
    if kind == "circle":
        return u**2 + v**2 <= r**2
    if kind == "square":
        half = r * 0.85
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if kind == "triangle":  # equilateral, circumradius r: inside all three edge half-planes
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            theta = np.pi / 2 + 2 * np.pi * k / 3  # outward normal of edge k
            inside &= u * np.cos(theta) + v * np.sin(theta) <= r / 2
        return inside
    if kind == "cross":
        arm = r * 0.35
        return ((np.abs(u) <= arm) & (np.abs(v) <= r)) | ((np.abs(v) <= arm) & (np.abs(u) <= r))
    raise KeyError(f"unknown shape {kind!r}; shapes are {', '.join(CLASSES)}")


def _distractors(rng: np.random.Generator, img: np.ndarray, keep_out: np.ndarray) -> None:
    """Paint 2-4 thin line segments and small dots, never over the labelled shape."""
    size = img.shape[-1]
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    for _ in range(rng.integers(2, 5)):
        colour = rng.uniform(0, 1, size=3)
        if rng.random() < 0.5:  # a segment of width ~1.2 px
            (x0, y0), (x1, y1) = rng.uniform(0, size, size=(2, 2))
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy + 1e-9), 0, 1)
            paint = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy)) <= 0.6
        else:  # a dot of radius 1-2 px
            cx, cy = rng.uniform(0, size, size=2)
            paint = np.hypot(xx - cx, yy - cy) <= rng.uniform(1.0, 2.0)
        paint &= ~keep_out
        img[:, paint] = colour[:, None]


def _draw(seed: int, index: int, size: int) -> tuple[np.ndarray, int, np.ndarray]:
    rng = np.random.default_rng([seed, index])
    label = int(rng.integers(len(CLASSES)))
    img = _background(rng, size)
    r = rng.uniform(0.2, 0.32) * size
    cx, cy = rng.uniform(r, size - r, size=2)
    mask = shape_mask(CLASSES[label], size, cx, cy, r, rng.uniform(0, 2 * np.pi))
    # a colour that stands out from the local background by at least 0.35 in some channel
    colour = rng.uniform(0, 1, size=3)
    while np.abs(colour - img[:, mask].mean(axis=1)).max() < 0.35:
        colour = rng.uniform(0, 1, size=3)
    img[:, mask] = colour[:, None]
    _distractors(rng, img, keep_out=mask)
    return np.clip(img, 0, 1), label, mask


def generate(n: int, *, seed: int, size: int = SIZE) -> Shapes:
    """``n`` images of the ``shapes`` dataset for ``seed``; image ``i`` depends on (seed, i)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    drawn = [_draw(seed, i, size) for i in range(n)]
    x = torch.from_numpy(np.stack([d[0] for d in drawn])).float()
    y = torch.tensor([d[1] for d in drawn], dtype=torch.int64)
    mask = torch.from_numpy(np.stack([d[2] for d in drawn]))[:, None]
    return Shapes(x, y, mask)
