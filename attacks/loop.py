"""The one step/project loop behind BIM and PGD (and the fooling images built on them)."""

from __future__ import annotations

import torch
from torch import nn

from attacks.common import ascent_direction, fooled, input_gradient, project


def iterate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    x_start: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    norm: str,
    targeted: bool,
    early_stop: bool = False,
    loss: str = "ce",
    eot_samples: int = 1,
) -> torch.Tensor:
    """``steps`` of ``x <- Proj_{B(x, eps) & [0,1]}(x + alpha * direction(grad))``.

    ``loss``: the attacker's loss (``attacks.common.LOSSES``), cross-entropy by default.
    With ``early_stop`` an example that already meets the goal keeps its current iterate and
    stops costing forward/backward passes; the rest of the batch goes on. ``eot_samples``:
    each step's gradient (and the logits early stop judges) is the mean over that many
    passes of a randomised model (``attacks.common.expected_value_and_grad``), so a step
    costs ``eot_samples`` forward/backward passes.

    Shape:
        - x, x_start: ``(N, C, H, W)``; y: ``(N,)``; returns ``(N, C, H, W)``, detached.
    """
    x_adv = x_start.detach().clone()
    active = torch.arange(x.shape[0], device=x.device)
    for step in range(steps):
        first = step == 0  # labels are checked against the logits once, not every step
        if early_stop:
            grad, logits = input_gradient(model, x_adv[active], y[active], targeted, first,
                                          loss, eot_samples)
            keep = ~fooled(logits, y[active], targeted)
            active, grad = active[keep], grad[keep]
            if active.numel() == 0:
                break
            stepped = x_adv[active] + alpha * ascent_direction(grad, norm)
            x_adv[active] = project(stepped, x[active], eps, norm)
        else:
            grad, _ = input_gradient(model, x_adv, y, targeted, first, loss, eot_samples)
            x_adv = project(x_adv + alpha * ascent_direction(grad, norm), x, eps, norm)
    return x_adv.detach()
