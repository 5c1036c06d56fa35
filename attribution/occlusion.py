"""Occlusion (Zeiler and Fergus 2014, "Visualizing and Understanding Convolutional
Networks"): slide a window of baseline pixels over the image and record how much the target
score drops; each pixel gets the average drop over the windows that cover it."""

from __future__ import annotations

import itertools
import math
from typing import Annotated

import torch
from torch import nn

from attribution.common import check_inputs, target_scores
from attribution.registry import register
from zoo.checks import check_baseline, check_window
from zoo.params import SIDE, AtLeast, Pixels, PositiveInt, Relative

#: a window or stride in pixels: one side for every dimension, or one per dimension
Window = Annotated[int, AtLeast(1), Pixels()] | tuple[PositiveInt, ...]
#: a suite may give them as fractions of the image's side instead, resolved at each call as
#: ``window = max(1, floor(rel_window * side))``
SideWindow = Annotated[Window, Relative(SIDE, "rel_window", whole=True)]
SideStride = Annotated[Window, Relative(SIDE, "rel_stride", whole=True)]


def window_starts(size: int, win: int, step: int) -> list[int]:
    """Captum's window positions: ``ceil((size - win) / step) + 1`` starts, the last window
    cut at the border when it would hang over."""
    return [k * step for k in range(math.ceil((size - win) / step) + 1)]


# a suite's default grid is the same at every image size, as Zeiler and Fergus's was: a
# window 15% of the side moved by half of it (4 px by 2 on a 28 or 32 px image, 33 by 16 on
# 224 px: 13 x 13 windows)
@register("occlusion", paper="Zeiler and Fergus 2014",
          suite_defaults={"rel_window": 0.15, "rel_stride": 0.075})
def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    window: SideWindow,
    stride: SideStride,
    baseline: float | torch.Tensor = 0.0,
    batch_size: PositiveInt = 64,
) -> torch.Tensor:
    """Average drop of the target logit over the occluding windows covering each pixel.

    Exactly Captum's ``Occlusion(model).attribute(x, target=target,
    sliding_window_shapes=window, strides=stride, baselines=baseline)`` with ``window`` and
    ``stride`` given as ``(c, h, w)``; an int or ``(h, w)`` window spans all channels.
    In pixels here; a suite (or ``get_method("occlusion").kwargs(settings, side=...)``) may
    give them as ``rel_window`` and ``rel_stride``, fractions of the image's side.
    ``baseline``: the occluding pixel value, or a tensor broadcastable to ``x``.
    ``batch_size``: occluded images per forward pass (at least one window of all N images);
    the result does not depend on it. The default, 64, is where the perf suite measured this
    faster than Captum at its fastest ``perturbations_per_eval`` with less peak memory on the
    CPU (16 images: 256 was 31% slower with 4.2x the memory on mnist_cnn, 54% slower with
    3.4x on shapes_cnn).

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int or ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, target = check_inputs(model, x, target, "occlusion")
    window, stride = check_window(window, stride, tuple(x.shape[1:]), cover=True)
    fill = check_baseline(baseline, x)

    # Captum's feature order (channel fastest, width slowest): every pixel then sums its
    # drops in the same order as Captum's one-window-at-a-time loop.
    starts = [window_starts(s, w, k) for s, w, k in zip(x.shape[1:], window, stride, strict=True)]
    boxes = [(c, h, w) for w, h, c in itertools.product(starts[2], starts[1], starts[0])]
    n = x.shape[0]
    per_pass = max(1, batch_size // n)

    total = torch.zeros_like(x)
    count = torch.zeros_like(x[0])
    with torch.no_grad():
        reference = target_scores(model(x), target)  # (N,)
        for first in range(0, len(boxes), per_pass):
            chunk = boxes[first:first + per_pass]
            occluded = x.unsqueeze(1).repeat(1, len(chunk), 1, 1, 1)  # (N, K, C, H, W)
            for k, box in enumerate(chunk):
                cut = _region(box, window)
                occluded[(slice(None), k, *cut)] = fill[(slice(None), *cut)]
            scores = target_scores(model(occluded.flatten(0, 1)),
                                   target.repeat_interleave(len(chunk)))
            drop = reference.unsqueeze(1) - scores.view(n, len(chunk))  # (N, K)
            for k, box in enumerate(chunk):
                cut = _region(box, window)
                total[(slice(None), *cut)] += drop[:, k].view(n, 1, 1, 1)
                count[cut] += 1
    return total / count


def _region(start: tuple[int, int, int], window: tuple[int, int, int]) -> tuple[slice, ...]:
    # slicing past the border cuts the last window, as Captum's negative padding does
    return tuple(slice(s, s + w) for s, w in zip(start, window, strict=True))
