"""Guided backpropagation (Springenberg, Dosovitskiy, Brox and Riedmiller 2015, "Striving
for Simplicity: The All Convolutional Net"): backpropagate through each ReLU only where
both the forward input and the incoming gradient are positive."""

from __future__ import annotations

import torch
from torch import nn

from attribution.registry import register
from attribution.relu_rules import relu_rule_gradient


@register("guided_backprop", paper="Springenberg et al. 2015", needs_relu=True,
          protocol=("layer", "neuron"))  # the objective: a layer's unit instead of the class
def guided_backprop(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor | None,
    *,
    layer: str | None = None,
    neuron: int | tuple[int, ...] | None = None,
) -> torch.Tensor:
    """Guided-backprop map of the target logit, or of ``neuron`` of ``layer`` (then
    ``target=None``; an int neuron is a channel's sum, a tuple one unit per example).

    Matches Captum's ``GuidedBackprop`` (and ``NeuronGuidedBackprop`` in layer mode). Only
    ``nn.ReLU`` modules are overridden (in-place ones included); functional ``F.relu`` calls
    keep the plain gradient, and a model without any ``nn.ReLU`` is a ``ValueError``.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int, ``(N,)`` or None; returns
          ``(N, C, H, W)``.
    """
    return relu_rule_gradient(model, x, target, layer=layer, neuron=neuron, rule="guided",
                              method="guided_backprop")
