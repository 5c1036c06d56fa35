"""The deconvnet (Zeiler and Fergus 2014, "Visualizing and Understanding Convolutional
Networks"), as a gradient rule: each ReLU passes back only the positive part of the
incoming signal, whatever its forward input was."""

from __future__ import annotations

import torch
from torch import nn

from attribution.registry import register
from attribution.relu_rules import relu_rule_gradient


@register("deconvnet", paper="Zeiler and Fergus 2014", needs_relu=True,
          protocol=("layer", "neuron"))  # the objective: a layer's unit instead of the class
def deconvnet(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor | None,
    *,
    layer: str | None = None,
    neuron: int | tuple[int, ...] | None = None,
) -> torch.Tensor:
    """Deconvnet map of the target logit, or of ``neuron`` of ``layer`` (then
    ``target=None``; an int neuron is a channel's sum, a tuple one unit per example).

    Matches Captum's ``Deconvolution`` (``NeuronDeconvolution`` in layer mode). Max-pooling
    switches are the ordinary max-pool gradient. Only ``nn.ReLU`` modules are overridden
    (in-place ones included); functional ``F.relu`` calls keep the plain gradient, and a model
    without any ``nn.ReLU`` is a ``ValueError``.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int, ``(N,)`` or None; returns
          ``(N, C, H, W)``.
    """
    return relu_rule_gradient(model, x, target, layer=layer, neuron=neuron, rule="deconvnet",
                              method="deconvnet")
