"""The high-dimension argument of Goodfellow, Shlens and Szegedy 2015 ("Explaining and
Harnessing Adversarial Examples", section 3).

For a linear score ``w . x`` the Linf-bounded perturbation ``eta = eps * sign(w)`` changes
the score by ``w . eta = eps * ||w||_1``. With ``d`` weights of typical size ``m`` that is
``eps * m * d``: it grows linearly with the dimension while the perturbation's Linf size
stays ``eps``. Many tiny changes, each below any per-pixel threshold, add up to a large
change of the output. ``dimension_sweep`` measures that on the abstract model;
``linear_model_shift`` measures how much of it survives on a real multiclass linear model,
where pixels are clipped to ``[0, 1]`` and what matters is a margin between two classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from zoo.checks import (
    check_count,
    check_eps_grid,
    check_generator,
    check_images,
    check_labels,
    check_nonnegative,
)


def dimension_sweep(
    dims: Sequence[int], *, eps: float, generator: torch.Generator | None = None
) -> list[dict[str, float]]:
    """Score shift of ``x -> x + eps * sign(w)`` for random ``w ~ N(0, I_d)``, per ``d``.

    The model is the abstract linear score of the paper: ``x ~ N(0, I_d)`` and no clipping,
    so the measured shift equals ``eps * ||w||_1`` up to float64 rounding; the point of the
    table is how that grows with ``d`` (about ``eps * d * sqrt(2 / pi)``) while the
    perturbation's Linf norm stays ``eps`` and its L2 norm is ``eps * sqrt(d)``.

    Returns one row per ``d``: ``dim, eps, l1_norm, measured_shift, predicted_shift,
    expected_shift, l2_perturbation, linf_perturbation``.
    """
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence) or not dims:
        raise ValueError(f"dims must be a non-empty sequence of positive integers, got {dims!r}")
    dims = [check_count(d, f"dims[{i}]", minimum=1) for i, d in enumerate(dims)]
    eps = check_nonnegative(eps, "eps")
    generator = check_generator(generator)
    rows = []
    for d in dims:
        w = torch.randn(d, generator=generator, dtype=torch.float64)
        x = torch.randn(d, generator=generator, dtype=torch.float64)
        x_adv = x + eps * w.sign()
        eta = x_adv - x
        rows.append({
            "dim": float(d),
            "eps": eps,
            "l1_norm": float(w.abs().sum()),
            "measured_shift": float(w @ x_adv - w @ x),
            "predicted_shift": eps * float(w.abs().sum()),
            # E|w_i| = sqrt(2 / pi) for a standard normal weight
            "expected_shift": eps * d * math.sqrt(2 / math.pi),
            "l2_perturbation": float(eta.norm(p=2)),
            "linf_perturbation": float(eta.abs().max()),
        })
    return rows


def linear_model_shift(
    weight: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps_grid: Sequence[float],
    bias: torch.Tensor | None = None,
) -> list[dict[str, float]]:
    """Predicted vs measured change of the class margin of a multiclass linear model.

    For each example the runner-up ``j`` is the highest-scoring wrong class on the clean
    input, and the margin is ``m = z_y - z_j`` with ``z = W x + b``. The Linf step that
    lowers ``m`` most is ``eps * sign(w_j - w_y)``; without a pixel range it lowers ``m`` by
    exactly ``eps * ||w_y - w_j||_1`` (the prediction). The measured change applies that
    step and clips to ``[0, 1]``, which removes every move that pushes a pixel already at 0
    or 1 further out (most MNIST pixels are 0), so measured <= predicted. ``flip_rate`` is
    the fraction of the correctly classified examples that the clipped step misclassifies.
    The bias does not enter the margin change; it is needed only for the predictions, and
    ``bias=None`` means a bias-free model.

    Returns one row per eps: ``eps, predicted_margin_shift, measured_margin_shift,
    flip_rate, dim`` (shifts are means over all examples, as positive decreases).

    Shape:
        - weight: ``(K, D)``; bias: ``(K,)``; x: ``(N, C, H, W)`` with ``C*H*W = D``; y: ``(N,)``.
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or not weight.is_floating_point():
        raise ValueError(f"weight must be a float tensor (classes, features), got {weight!r:.80}")
    if weight.shape[0] < 2:
        raise ValueError(f"weight needs at least 2 classes, got shape {tuple(weight.shape)}")
    k, d = weight.shape
    if bias is not None and (not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (k,)):
        raise ValueError(f"bias must be a tensor of shape ({k},), got {bias!r:.80}")
    x = check_images(x)
    if x[0].numel() != d:
        raise ValueError(f"x has {x[0].numel()} features per image, weight expects {d}")
    y = check_labels(y, x.shape[0], k).to(x.device, torch.int64)
    grid = check_eps_grid(eps_grid, "eps_grid")

    w = weight.detach().to(x.device, torch.float64)
    b = torch.zeros(k, dtype=torch.float64, device=x.device) if bias is None else (
        bias.detach().to(x.device, torch.float64))
    flat = x.detach().flatten(1).to(torch.float64)  # (N, D)
    z = flat @ w.T + b  # (N, K)
    runner_up = z.scatter(1, y[:, None], -torch.inf).argmax(dim=1)  # (N,)
    direction = w[runner_up] - w[y]  # (N, D): gradient of z_j - z_y
    margin = (z.gather(1, y[:, None]) - z.gather(1, runner_up[:, None])).squeeze(1)
    correct = z.argmax(dim=1) == y
    rows = []
    for eps in grid:
        x_adv = (flat + eps * direction.sign()).clamp(0.0, 1.0)
        z_adv = x_adv @ w.T + b
        margin_adv = (z_adv.gather(1, y[:, None]) - z_adv.gather(1, runner_up[:, None])).squeeze(1)
        flipped = (z_adv.argmax(dim=1) != y) & correct
        rows.append({
            "eps": eps,
            "predicted_margin_shift": float((eps * direction.abs().sum(dim=1)).mean()),
            "measured_margin_shift": float((margin - margin_adv).mean()),
            "flip_rate": float(flipped.sum()) / max(int(correct.sum()), 1),
            "dim": float(d),
        })
    return rows
