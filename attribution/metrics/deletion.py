"""Deletion and insertion curves (Petsiuk, Das and Saenko 2018, "RISE: Randomized Input
Sampling for Explanation of Black-box Models").

Pixels are ranked by the attribution map. Deletion sets the top-ranked fraction to a baseline
in ``steps`` equal steps and records the softmax probability of the target class: a faithful
map makes it fall fast, so a *lower* area under the deletion curve is better. Insertion runs
the other way, from a blurred (or constant) image, putting the original pixels back in rank
order: a *higher* area under the insertion curve is better. Areas are trapezoid-rule
integrals over the deleted/inserted fraction in ``[0, 1]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torchvision.transforms.v2.functional as TF
from torch import nn

from attribution.common import check_inputs
from attribution.metrics._maps import check_flag, check_maps, pixel_scores
from zoo.checks import check_baseline, check_count
from zoo.guard import keeps_buffers


@dataclass(frozen=True)
class PerturbationCurve:
    """A deletion or insertion curve per image.

    Shape:
        - fractions: ``(steps + 1,)`` from 0 to 1; curves: ``(N, steps + 1)`` target-class
          probabilities; auc: ``(N,)``.
    """

    kind: str
    fractions: torch.Tensor
    curves: torch.Tensor
    auc: torch.Tensor

    @property
    def mean_auc(self) -> float:
        return float(self.auc.mean())


def _fill(
    baseline: object, x: torch.Tensor, blur_kernel: int, blur_sigma: float
) -> torch.Tensor:
    """The image the deleted pixels take: ``"blur"``, a number, or a tensor broadcast to x."""
    if isinstance(baseline, str):
        if baseline != "blur":
            raise ValueError(f"baseline must be 'blur', a number or a tensor, got {baseline!r}")
        check_count(blur_kernel, "blur_kernel", minimum=1)
        if blur_kernel % 2 == 0:
            raise ValueError(f"blur_kernel must be odd, got {blur_kernel}")
        if not (isinstance(blur_sigma, (int, float)) and math.isfinite(blur_sigma)
                and blur_sigma > 0):
            raise ValueError(f"blur_sigma must be a positive number, got {blur_sigma!r}")
        return TF.gaussian_blur(x, [blur_kernel, blur_kernel], [float(blur_sigma)] * 2)
    if isinstance(baseline, bool) or not isinstance(baseline, (torch.Tensor, int, float)):
        raise ValueError(f"baseline must be 'blur', a number or a tensor, got {baseline!r}")
    return check_baseline(baseline, x)


def _curve(
    kind: str,
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    attribution: torch.Tensor,
    *,
    steps: int,
    baseline: object,
    absolute: bool,
    batch_size: int,
    blur_kernel: int,
    blur_sigma: float,
) -> PerturbationCurve:
    n, _, h, w = x.shape
    attribution = check_maps(attribution, n, (h, w))
    check_count(steps, "steps", minimum=1)
    check_count(batch_size, "batch_size", minimum=1)
    check_flag(absolute, "absolute")
    fill = _fill(baseline, x, blur_kernel, blur_sigma)

    scores = pixel_scores(attribution.to(x.device), absolute).flatten(1)  # (N, HW)
    # a stable sort breaks ties by pixel index, so the curve does not depend on the device
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(h * w, device=x.device).expand(n, -1))
    rank = rank.view(n, 1, h, w)
    # step k perturbs the round(k / steps * HW) top-ranked pixels
    counts = torch.round(torch.arange(steps + 1, dtype=torch.float64) / steps * (h * w))
    counts = counts.to(torch.int64).to(x.device)
    # deletion starts from x and moves ranked pixels to the fill; insertion the reverse
    start, end = (x, fill) if kind == "deletion" else (fill, x)

    pairs = [(i, k) for i in range(n) for k in range(steps + 1)]
    probs = torch.empty(len(pairs), dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for first in range(0, len(pairs), batch_size):
            chunk = torch.tensor(pairs[first:first + batch_size], device=x.device)
            img, k = chunk[:, 0], chunk[:, 1]
            moved = rank[img] < counts[k].view(-1, 1, 1, 1)  # (B, 1, H, W)
            batch = torch.where(moved, end[img], start[img])  # (B, C, H, W)
            p = torch.softmax(model(batch).float(), dim=1)
            probs[first:first + len(chunk)] = p.gather(1, target[img].view(-1, 1)).squeeze(1)
    curves = probs.view(n, steps + 1)
    fractions = counts.to(x.dtype) / (h * w)
    return PerturbationCurve(kind, fractions.cpu(), curves.cpu(),
                             torch.trapezoid(curves, fractions, dim=1).cpu())


@keeps_buffers
def deletion(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    attribution: torch.Tensor,
    *,
    steps: int = 50,
    baseline: str | float | torch.Tensor = 0.0,
    absolute: bool = False,
    batch_size: int = 256,
    blur_kernel: int = 11,
    blur_sigma: float = 5.0,
) -> PerturbationCurve:
    """Deletion curve: the target's probability as the top-ranked pixels go to ``baseline``
    (0, as in the paper; ``"blur"`` for a blurred copy, or any number or tensor).

    Pixels are ranked by the channel sum of ``attribution`` (of ``|attribution|`` when
    ``absolute``; pass ``absolute=True`` for unsigned maps such as saliency). ``batch_size``
    perturbed images run per forward pass, across steps and images; it does not change the
    result. Lower ``auc`` is better.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int or ``(N,)``; attribution:
          ``(N, C, H, W)`` or ``(N, 1, H, W)``.
    """
    model, x, target = check_inputs(model, x, target, "deletion")
    return _curve("deletion", model, x, target, attribution, steps=steps, baseline=baseline,
                  absolute=absolute, batch_size=batch_size, blur_kernel=blur_kernel,
                  blur_sigma=blur_sigma)


@keeps_buffers
def insertion(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    attribution: torch.Tensor,
    *,
    steps: int = 50,
    baseline: str | float | torch.Tensor = "blur",
    absolute: bool = False,
    batch_size: int = 256,
    blur_kernel: int = 11,
    blur_sigma: float = 5.0,
) -> PerturbationCurve:
    """Insertion curve: start from ``baseline`` (a Gaussian blur of ``x`` by default, as in
    the paper, so the start image has no sharp evidence but keeps the colour statistics) and
    put the top-ranked original pixels back. Higher ``auc`` is better. Arguments as in
    ``deletion``.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int or ``(N,)``; attribution:
          ``(N, C, H, W)`` or ``(N, 1, H, W)``.
    """
    model, x, target = check_inputs(model, x, target, "insertion")
    return _curve("insertion", model, x, target, attribution, steps=steps, baseline=baseline,
                  absolute=absolute, batch_size=batch_size, blur_kernel=blur_kernel,
                  blur_sigma=blur_sigma)
