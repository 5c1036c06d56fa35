"""Fast Gradient Sign Method (Goodfellow, Shlens and Szegedy 2015, "Explaining and
Harnessing Adversarial Examples"): one step of size eps along the sign of the input gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from attacks.common import check_attack_inputs, input_gradient
from attacks.registry import register
from zoo.params import NonNegative, PositiveInt


@register("fgsm", paper="Goodfellow et al. 2015")
def fgsm(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: NonNegative,
    targeted: bool = False, eot_samples: PositiveInt = 1,
) -> torch.Tensor:
    """``x + eps * sign(grad_x CE(model(x), y))`` clipped to ``[0, 1]``.

    Targeted: ``y`` holds the target classes and the step goes down the target's loss.
    ``eot_samples``: the gradient is the mean over that many forward/backward passes of a
    randomised model (Expectation over Transformation, Athalye et al. 2018); one by default.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "fgsm")
    if eps == 0:
        return x.detach().clone()
    grad, _ = input_gradient(model, x, y, targeted, eot_samples=eot_samples)
    return (x + eps * grad.sign()).clamp(0.0, 1.0).detach()
