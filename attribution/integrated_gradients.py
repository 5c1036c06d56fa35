"""Integrated gradients (Sundararajan, Taly and Yan 2017, "Axiomatic Attribution for Deep
Networks"): ``(x - baseline)`` times the average gradient along the straight path from the
baseline to ``x``."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from attribution.common import check_inputs, input_gradient
from attribution.registry import register
from zoo.checks import check_choice, check_count

METHODS = ("gausslegendre", "riemann_trapezoid")


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


@register("integrated_gradients", paper="Sundararajan et al. 2017")
def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    baseline: float | torch.Tensor = 0.0,
    steps: int = 50,
    method: str = "gausslegendre",
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
    method = check_choice(method, "method", METHODS)
    check_count(steps, "steps", minimum=2 if method == "riemann_trapezoid" else 1)
    if isinstance(baseline, torch.Tensor):
        if not bool(torch.isfinite(baseline).all()):
            raise ValueError("baseline contains NaN or infinite values")
        try:
            fits = torch.broadcast_shapes(baseline.shape, x.shape) == x.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(f"baseline of shape {tuple(baseline.shape)} does not broadcast "
                             f"to x {tuple(x.shape)}")
        baseline = baseline.to(x.device, x.dtype)
    elif (isinstance(baseline, bool) or not isinstance(baseline, (int, float))
            or not math.isfinite(baseline)):
        raise ValueError(f"baseline must be a finite number or a tensor, got {baseline!r}")

    alphas, weights = quadrature(steps, method)
    path = torch.cat([baseline + a * (x - baseline) for a in alphas])  # (steps * N, C, H, W)
    grads = input_gradient(model, path, target.repeat(steps))
    scale = torch.tensor(weights, dtype=torch.float32, device=x.device).view(steps, 1)
    total = (grads.reshape(steps, -1) * scale).reshape(steps, *x.shape).sum(dim=0)
    return (total * (x - baseline)).detach()
