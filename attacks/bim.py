"""Basic Iterative Method (Kurakin, Goodfellow and Bengio 2016, "Adversarial examples in the
physical world"): FGSM repeated with a small step, clipped to the eps-ball after each step.
"""

from __future__ import annotations

import torch
from torch import nn

from attacks.common import StepSize, check_attack_inputs, check_start
from attacks.loop import iterate
from attacks.registry import register
from zoo.params import Iterations, NonNegative, PositiveInt


@register("bim", paper="Kurakin et al. 2016")
def bim(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: NonNegative,
    alpha: StepSize,
    steps: Iterations,
    targeted: bool = False,
    early_stop: bool = False,
    x_init: torch.Tensor | None = None,
    eot_samples: PositiveInt = 1,
) -> torch.Tensor:
    """``steps`` Linf sign steps of size ``alpha`` from ``x`` (or from ``x_init``, projected
    into the ball), projected to ``B_inf(x, eps)`` after each step.

    ``eot_samples``: each step follows the mean gradient of that many forward/backward
    passes of a randomised model (Expectation over Transformation, Athalye et al. 2018), so
    the attack costs ``steps * eot_samples`` passes; one by default.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "bim")
    init = check_start(x_init, x, eps, "linf")
    if eps == 0:
        return x.detach().clone()
    return iterate(
        model, x, y, x if init is None else init, eps=eps, alpha=alpha, steps=steps,
        norm="linf", targeted=targeted, early_stop=early_stop, eot_samples=eot_samples,
    )
