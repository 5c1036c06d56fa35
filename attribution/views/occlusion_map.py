"""Occlusion experiments (Zeiler and Fergus 2014, "Visualizing and Understanding
Convolutional Networks", Fig. 7; CS231n lecture 9): slide a grey square over the image and
record the classifier's probability of the true class at each position. Where it falls, the
network was looking. One value per window position: the lecture's heat map, not
``attribution.occlusion``'s per-pixel average drop of a logit."""

from __future__ import annotations

import torch
from torch import nn

from attribution.common import check_inputs
from attribution.views._common import window_grid, window_masks
from attribution.views.activations import Window
from zoo.checks import check_window
from zoo.guard import keeps_buffers
from zoo.params import PositiveInt, checked


@keeps_buffers
@checked
def occlusion_probability_map(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    window: Window,
    stride: Window,
    fill: float = 0.5,
    batch_size: PositiveInt = 256,
) -> torch.Tensor:
    """Softmax probability of ``target`` with a ``fill``-valued square (all channels) over
    each whole-window position; entry ``[n, r, c]`` has the window's top-left corner at
    ``(r * sh, c * sw)``.

    ``batch_size``: occluded images per forward pass; the result does not depend on it.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int or ``(N,)``; returns
          ``(N, (H - wh) // sh + 1, (W - ww) // sw + 1)``.
    """
    model, x, target = check_inputs(model, x, target, "occlusion_probability_map")
    size = (x.shape[2], x.shape[3])
    win, step = check_window(window, stride, size)
    rows, cols = window_grid(size, win, step)
    masks = window_masks(size, win, step, x.device)  # (P, 1, H, W)
    p = masks.shape[0]
    n = x.shape[0]
    # every (image, position) pair, image-major, cut into chunks of batch_size
    image = torch.arange(n, device=x.device).repeat_interleave(p)
    where = torch.arange(p, device=x.device).repeat(n)
    probs = []
    with torch.no_grad():
        for first in range(0, n * p, batch_size):
            i, w = image[first:first + batch_size], where[first:first + batch_size]
            occluded = torch.where(masks[w], float(fill), x[i])  # (B, C, H, W)
            logits = model(occluded)
            if logits.dim() != 2:
                raise ValueError(f"model must return logits (N, classes), got "
                                 f"{tuple(logits.shape)}")
            probs.append(logits.softmax(dim=1).gather(1, target[i].view(-1, 1)).squeeze(1))
    return torch.cat(probs).view(n, rows, cols)
