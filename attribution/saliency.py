"""Saliency maps (Simonyan, Vedaldi and Zisserman 2014, "Deep Inside Convolutional Networks:
Visualising Image Classification Models and Saliency Maps"): the gradient of the class
score with respect to the input pixels."""

from __future__ import annotations

import torch
from torch import nn

from attribution.common import check_inputs, input_gradient
from attribution.registry import register


@register("saliency", paper="Simonyan et al. 2014")
def saliency(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
    """The raw, signed input gradient of the target's logit.

    This is exactly Captum's ``Saliency(model).attribute(x, target, abs=False)``. Captum's
    default ``abs=True`` returns ``grad.abs()``; the lecture's picture is
    ``saliency_map(grad)``, the channel-max of that absolute value.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int or ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, target = check_inputs(model, x, target, "saliency")
    return input_gradient(model, x, target)


def saliency_map(grad: torch.Tensor) -> torch.Tensor:
    """Simonyan et al.'s map: ``max_c |grad|`` per pixel.

    Equals the channel-max of Captum's default ``Saliency(...).attribute(x, target)``
    (``abs=True``), which itself keeps the channels.

    Shape:
        - grad: ``(N, C, H, W)``; returns ``(N, 1, H, W)``.
    """
    if not isinstance(grad, torch.Tensor) or grad.dim() != 4:
        shape = tuple(grad.shape) if isinstance(grad, torch.Tensor) else type(grad).__name__
        raise ValueError(f"grad must be a tensor (N, C, H, W), got {shape}")
    return grad.detach().abs().amax(dim=1, keepdim=True)
