"""Integrated gradients (Sundararajan, Taly and Yan 2017, "Axiomatic Attribution for Deep
Networks"): ``(x - baseline)`` times the average gradient along the straight path from the
baseline to ``x``."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from attribution.common import check_inputs, input_gradient
from attribution.registry import register
from zoo.checks import check_baseline
from zoo.params import Iterations


def quadrature(steps: int, method: str) -> tuple[list[float], list[float]]:
    """Captum's path points ``alphas`` in ``[0, 1]`` and their weights.

    Gauss-Legendre: the Legendre nodes and weights mapped from ``[-1, 1]`` to ``[0, 1]``.
    ``riemann_trapezoid`` is Captum's: ``steps`` points ``linspace(0, 1, steps)`` but weights
    ``1/steps`` with the two ends halved, which sum to ``(steps - 1) / steps``, not 1 (a
    textbook trapezoid on those points would use ``1 / (steps - 1)``); matched here.
    """
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (0.5 * (1 + nodes)).tolist(), (0.5 * weights).tolist()
    alphas = torch.linspace(0, 1, steps).tolist()
    weights = [1 / steps] * steps
    weights[0] /= 2
    weights[-1] /= 2
    return alphas, weights


# a suite spells steps and method as ig_steps and ig_method (method is a column of every
# result row), and runs 32 nodes unless it says otherwise
@register("integrated_gradients", paper="Sundararajan et al. 2017",
          aliases={"steps": "ig_steps", "method": "ig_method"}, suite_defaults={"steps": 32})
def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    baseline: float | torch.Tensor = 0.0,
    steps: Iterations = 50,
    method: Literal["gausslegendre", "riemann_trapezoid"] = "gausslegendre",
) -> torch.Tensor:
    """Integrated gradients of the target logit, the path integral done by quadrature.

    Matches Captum's ``IntegratedGradients(model).attribute(x, baselines=baseline,
    target=target, n_steps=steps, method=method)``; Captum's default ``method`` is
    ``"gausslegendre"`` and so is ours. All ``steps * N`` path points go through the model in
    one batch, as in Captum without ``internal_batch_size``.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; baseline: number or broadcastable to x;
          returns ``(N, C, H, W)``.
    """
    model, x, target = check_inputs(model, x, target, "integrated_gradients")
    if method == "riemann_trapezoid" and steps < 2:
        raise ValueError(f"steps must be >= 2 for the trapezoid rule, got {steps}")
    base = check_baseline(baseline, x)

    alphas, weights = quadrature(steps, method)
    path = torch.cat([base + a * (x - base) for a in alphas])  # (steps * N, C, H, W)
    grads = input_gradient(model, path, target.repeat(steps))
    scale = torch.tensor(weights, dtype=torch.float32, device=x.device).view(steps, 1)
    total = (grads.reshape(steps, -1) * scale).reshape(steps, *x.shape).sum(dim=0)
    return (total * (x - base)).detach()
