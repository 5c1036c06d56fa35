"""First-layer filters (CS231n lecture 9, after Krizhevsky et al. 2012's AlexNet figure): the
weights of the first convolution, shown as small images, are oriented edges and colour blobs;
deeper filters act on feature maps, not pixels, and are much less readable this way."""

from __future__ import annotations

import torch
from torch import nn

from zoo.guard import check_model
from zoo.hooks import find_modules, get_layer


def first_layer_filters(model: nn.Module, layer: str | None = None) -> torch.Tensor:
    """A copy of the weights of the first ``nn.Conv2d`` (in registration order, which is the
    forward order of a Sequential-like network), or of the convolution named by ``layer``.

    Shape:
        - returns ``(K, C, kh, kw)``: ``K`` filters over ``C`` input channels
          (``C = in_channels / groups``).
    """
    model = check_model(model)
    if layer is None:
        convs = find_modules(model, nn.Conv2d)
        if not convs:
            raise ValueError("model has no nn.Conv2d layer; name one with layer=")
        conv = convs[0][1]
    else:
        if not isinstance(layer, str):
            raise KeyError(f"layer must be a qualified module name (str), got {layer!r}")
        conv = get_layer(model, layer)
        if not isinstance(conv, nn.Conv2d):
            raise ValueError(f"layer {layer!r} is a {type(conv).__name__}, not an nn.Conv2d")
    return conv.weight.detach().clone()
