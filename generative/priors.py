"""Image priors of Mahendran and Vedaldi 2015 ("Understanding Deep Image Representations by
Inverting Them"): the total variation ``TV_beta``, which favours piecewise-smooth images,
and the ``alpha``-norm, which keeps pixels near the neutral image. Both are sums per image;
the methods that use them divide by the number of pixels so one weight fits every size.
"""

from __future__ import annotations

import math

import torch


def total_variation(x: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """``TV_beta``: the sum over channels and over positions ``i < H-1``, ``j < W-1`` of
    ``((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2)^(beta / 2)``.

    For ``beta < 2`` the power's derivative is infinite at a zero difference; positions with
    a zero difference are routed around the power (the double-``where`` trick), so their
    value is exactly 0 and their gradient 0 (a subgradient) instead of NaN.

    Shape:
        - x: ``(N, C, H, W)``; returns ``(N,)``.
    """
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (
            math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    if x.dim() != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {tuple(x.shape)}")
    right = x[..., :-1, 1:] - x[..., :-1, :-1]  # (N, C, H-1, W-1)
    down = x[..., 1:, :-1] - x[..., :-1, :-1]  # (N, C, H-1, W-1)
    squared = right.square() + down.square()
    if beta == 2:
        return squared.sum(dim=(1, 2, 3))
    nonzero = squared > 0
    safe = torch.where(nonzero, squared, torch.ones_like(squared))
    powered = torch.where(nonzero, safe.pow(beta / 2), torch.zeros_like(squared))
    return powered.sum(dim=(1, 2, 3))


def alpha_norm(x: torch.Tensor, alpha: float = 6.0,
               centre: torch.Tensor | float = 0.0) -> torch.Tensor:
    """``sum |x - centre|^alpha`` over channels and positions, per image.

    Shape:
        - x: ``(N, C, H, W)``; centre: a number or broadcastable to ``x``
          (``(1, C, 1, 1)``); returns ``(N,)``.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (
            math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    if x.dim() != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {tuple(x.shape)}")
    magnitude = (x - centre).abs()
    if alpha >= 1:
        return magnitude.pow(alpha).sum(dim=(1, 2, 3))
    nonzero = magnitude > 0  # below 1 the power's derivative is infinite at 0, as in TV
    safe = torch.where(nonzero, magnitude, torch.ones_like(magnitude))
    return torch.where(nonzero, safe.pow(alpha), torch.zeros_like(magnitude)).sum(dim=(1, 2, 3))
