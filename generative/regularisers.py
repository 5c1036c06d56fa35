"""Yosinski et al. 2015 ("Understanding Neural Networks Through Deep Visualization"): the
regularisers of activation maximisation, each a small switchable piece.

Four edit the image after each gradient step (``after``): L2 decay, Gaussian blur every few
steps, clipping pixels of small norm, clipping pixels of small contribution. Jitter instead
moves the image before the forward pass (``offsets``); the gradient flows back through the
shift, so no shift back is needed. "Zero" is the model's neutral image ``centre`` (the
dataset mean in pixel space), which is what the paper's mean-subtracted zero is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torchvision.transforms.v2.functional as TF

from zoo.checks import check_count, check_nonnegative


@dataclass(frozen=True)
class L2Decay:
    """``x <- centre + (1 - decay) (x - centre)`` after every step (the paper's theta_decay)."""

    decay: float

    def __post_init__(self) -> None:
        if not 0.0 <= check_nonnegative(self.decay, "decay") < 1.0:
            raise ValueError(f"decay must lie in [0, 1), got {self.decay!r}")

    def after(self, x: torch.Tensor, grad: torch.Tensor, step: int,
              centre: torch.Tensor) -> torch.Tensor:
        return centre + (1.0 - self.decay) * (x - centre)


@dataclass(frozen=True)
class GaussianBlur:
    """Blur with a Gaussian of ``sigma`` pixels after every ``every``-th step: high
    frequencies raise activations without looking like anything."""

    sigma: float
    every: int = 1

    def __post_init__(self) -> None:
        check_nonnegative(self.sigma, "sigma")
        check_count(self.every, "every", minimum=1)

    def after(self, x: torch.Tensor, grad: torch.Tensor, step: int,
              centre: torch.Tensor) -> torch.Tensor:
        if self.sigma == 0 or (step + 1) % self.every:
            return x
        radius = max(1, math.ceil(3 * self.sigma))
        size = min(2 * radius + 1, _largest_odd(min(x.shape[-2:])))
        if size < 3:
            return x
        return TF.gaussian_blur(x, kernel_size=[size, size], sigma=[self.sigma, self.sigma])


@dataclass(frozen=True)
class NormClip:
    """Set to ``centre`` every pixel whose norm over channels is below the ``percentile``-th
    percentile of the image: only the parts the unit needs survive."""

    percentile: float

    def __post_init__(self) -> None:
        _check_percentile(self.percentile)

    def after(self, x: torch.Tensor, grad: torch.Tensor, step: int,
              centre: torch.Tensor) -> torch.Tensor:
        norm = (x - centre).norm(dim=1, keepdim=True)  # (N, 1, H, W)
        return _clip_below(x, norm, self.percentile, centre)


@dataclass(frozen=True)
class ContributionClip:
    """Set to ``centre`` every pixel whose contribution is below the ``percentile``-th
    percentile. Contribution is the paper's linear estimate of how much the objective would
    change if the pixel were set to zero: ``|sum_c (x - centre) * grad|``."""

    percentile: float

    def __post_init__(self) -> None:
        _check_percentile(self.percentile)

    def after(self, x: torch.Tensor, grad: torch.Tensor, step: int,
              centre: torch.Tensor) -> torch.Tensor:
        contribution = ((x - centre) * grad).sum(dim=1, keepdim=True).abs()  # (N, 1, H, W)
        return _clip_below(x, contribution, self.percentile, centre)


@dataclass(frozen=True)
class Jitter:
    """Shift the image by up to ``pixels`` in each direction (circularly) before every
    forward pass, so no single pixel alignment can be exploited."""

    pixels: int

    def __post_init__(self) -> None:
        check_count(self.pixels, "pixels")

    def offsets(self, steps: int, generator: torch.Generator | None,
                device: torch.device) -> list[tuple[int, int]]:
        """All shifts of a run drawn up front: one host sync instead of one per step."""
        if self.pixels == 0:
            return [(0, 0)] * steps
        gen_device = generator.device if generator is not None else device
        drawn = torch.randint(-self.pixels, self.pixels + 1, (steps, 2), generator=generator,
                              device=gen_device)
        return [(int(a), int(b)) for a, b in drawn.tolist()]

    @staticmethod
    def shift(x: torch.Tensor, offset: tuple[int, int]) -> torch.Tensor:
        return torch.roll(x, shifts=offset, dims=(-2, -1)) if offset != (0, 0) else x


Regulariser = L2Decay | GaussianBlur | NormClip | ContributionClip | Jitter


def check_regularisers(regularisers: object) -> tuple[Regulariser, ...]:
    if not isinstance(regularisers, Sequence) or isinstance(regularisers, str):
        raise ValueError(f"regularisers must be a sequence, got {regularisers!r}")
    for r in regularisers:
        if not isinstance(r, (L2Decay, GaussianBlur, NormClip, ContributionClip, Jitter)):
            raise ValueError(f"unknown regulariser {r!r}")
    return tuple(regularisers)


def apply_after(regularisers: Sequence[Regulariser], x: torch.Tensor, grad: torch.Tensor,
                step: int, centre: torch.Tensor) -> torch.Tensor:
    """Every image-editing regulariser in order (jitter edits nothing after a step)."""
    for r in regularisers:
        if not isinstance(r, Jitter):
            x = r.after(x, grad, step, centre)
    return x


def _check_percentile(value: float) -> None:
    if not 0.0 <= check_nonnegative(value, "percentile") <= 100.0:
        raise ValueError(f"percentile must lie in [0, 100], got {value!r}")


def _clip_below(x: torch.Tensor, score: torch.Tensor, percentile: float,
                centre: torch.Tensor) -> torch.Tensor:
    if percentile == 0:
        return x
    flat = score.flatten(1)  # (N, H*W)
    threshold = torch.quantile(flat, percentile / 100.0, dim=1).view(-1, 1, 1, 1)
    return torch.where(score < threshold, centre.expand_as(x), x)


def _largest_odd(n: int) -> int:
    return n if n % 2 else n - 1
