"""Fragility of attribution maps (Ghorbani, Abid and Zou 2019, "Interpretation of Neural
Networks is Fragile").

Perturb the input by a small amount that leaves the predicted label unchanged, and measure
how much the map moves: Spearman rank correlation between the original and perturbed maps
and the overlap of their top-k pixels (Ghorbani et al.'s two measures). 1 means the map did
not change; lower is more fragile. Ghorbani et al. search for perturbations that move the map
on purpose; this simpler version uses one FGSM step on the model's loss (or a random-sign
step), which bounds fragility from below. Images whose predicted label changes are excluded:
a different decision may rightly have a different explanation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from attribution.common import check_generator, check_inputs
from attribution.metrics._maps import (
    AttributionFn,
    check_kwargs,
    check_maps,
    pixel_scores,
    resolve_method,
)
from zoo.checks import check_choice, check_nonnegative
from zoo.errors import UserError
from zoo.gradients import input_gradient as gradient_of
from zoo.guard import keeps_buffers

#: what the FGSM perturbation says on a model it cannot differentiate
INSTEAD_FRAGILITY = "the fgsm perturbation cannot be made: use attack='random'"


@dataclass(frozen=True)
class FragilityResult:
    """Per-image similarity of the maps before and after the perturbation.

    ``kept``: images whose predicted label did not change (the others are NaN in
    ``spearman`` and ``top_k_overlap`` and left out of the means). ``k``: pixels compared
    by the top-k overlap. ``x_perturbed``: the perturbed images.

    Shape:
        - kept: bool ``(N,)``; spearman, top_k_overlap: ``(N,)``; x_perturbed: like ``x``.
    """

    kept: torch.Tensor
    spearman: torch.Tensor
    top_k_overlap: torch.Tensor
    mean_spearman: float
    mean_top_k_overlap: float
    k: int
    x_perturbed: torch.Tensor


def _perturb(
    model: nn.Module, x: torch.Tensor, label: torch.Tensor, eps: float, attack: str,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """One signed step of size ``eps``, clipped to ``[0, 1]``: FGSM (Goodfellow et al.
    2015) raises the cross-entropy of the predicted label; "random" uses random signs."""
    if attack == "random":
        sign = torch.randint(0, 2, x.shape, generator=generator,
                             device=generator.device if generator is not None else x.device)
        step = (2 * sign - 1).to(x.device, x.dtype)
    else:
        xg = x.detach().requires_grad_(True)
        with torch.enable_grad():
            # summed, so each image's step is its own gradient's sign
            loss = F.cross_entropy(model(xg), label, reduction="sum")
            grad = gradient_of(loss, xg, instead=INSTEAD_FRAGILITY)
        step = grad.sign()
    return (x + eps * step).clamp(0, 1).detach()


def _top_k_overlap(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Share of the k highest pixels of ``a`` that are among the k highest of ``b``, (N,)."""
    top_a = torch.zeros_like(a, dtype=torch.bool).scatter_(1, a.topk(k, dim=1).indices, True)
    top_b = torch.zeros_like(b, dtype=torch.bool).scatter_(1, b.topk(k, dim=1).indices, True)
    return (top_a & top_b).sum(1).double() / k


@keeps_buffers
def fragility(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    method: str | AttributionFn,
    *,
    eps: float = 4 / 255,
    attack: str = "fgsm",
    top_k: int | float = 0.01,
    generator: torch.Generator | None = None,
    method_kwargs: dict[str, Any] | None = None,
) -> FragilityResult:
    """Similarity of ``method``'s maps for ``target`` before and after an ``eps`` step.

    ``method``: a registered name or ``fn(model, x, target, **method_kwargs)``. ``attack``:
    ``"fgsm"`` (towards misclassification of the predicted label) or ``"random"`` (random
    signs from ``generator``). ``top_k``: a pixel count, or a fraction of the pixels (default
    1%, at least one). Pixels are compared by the channel sum of ``|map|``, the magnitude
    Ghorbani et al. rank. A random method (SmoothGrad) shares one ``method_kwargs``
    generator between the two calls, so its own noise counts as fragility too.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int or ``(N,)``.
    """
    model, x, target = check_inputs(model, x, target, "fragility")
    fn = resolve_method(method)
    kwargs = check_kwargs(method_kwargs)
    eps = check_nonnegative(eps, "eps")
    check_choice(attack, "attack", ("fgsm", "random"))
    generator = check_generator(generator, x)
    h, w = x.shape[2:]
    if isinstance(top_k, bool) or not isinstance(top_k, (int, float)):
        raise UserError(f"top_k must be a pixel count or a fraction, got {top_k!r}")
    if isinstance(top_k, int):
        if not 1 <= top_k <= h * w:
            raise UserError(f"top_k must be between 1 and {h * w} pixels, got {top_k}")
        k = top_k
    elif 0 < top_k <= 1:
        k = max(1, round(top_k * h * w))
    else:
        raise UserError(f"top_k as a fraction must be in (0, 1], got {top_k!r}")

    with torch.no_grad():
        label = model(x).argmax(1)
    x_adv = _perturb(model, x, label, eps, attack, generator)
    with torch.no_grad():
        kept = model(x_adv).argmax(1) == label

    n = x.shape[0]
    before = check_maps(fn(model, x, target, **kwargs), n, (h, w), name="method output")
    after = check_maps(fn(model, x_adv, target, **kwargs), n, (h, w), name="method output")
    a = pixel_scores(before, True).flatten(1).double().cpu()  # (N, HW)
    b = pixel_scores(after, True).flatten(1).double().cpu()
    rho = torch.full((n,), math.nan, dtype=torch.float64)
    overlap = torch.full((n,), math.nan, dtype=torch.float64)
    kept = kept.cpu()
    if bool(kept.any()):
        overlap[kept] = _top_k_overlap(a[kept], b[kept], k)
    for i in kept.nonzero().flatten().tolist():
        ai, bi = a[i].numpy(), b[i].numpy()
        if np.ptp(ai) == 0 or np.ptp(bi) == 0:
            # a constant map has no ranks to correlate
            rho[i] = 1.0 if np.array_equal(ai, bi) else 0.0
        else:
            rho[i] = float(stats.spearmanr(ai, bi).statistic)
    mean_rho = float(rho[kept].mean()) if bool(kept.any()) else math.nan
    mean_overlap = float(overlap[kept].mean()) if bool(kept.any()) else math.nan
    return FragilityResult(kept, rho, overlap, mean_rho, mean_overlap, k, x_adv.cpu())
