"""First-layer filters (CS231n lecture 9, after Krizhevsky et al. 2012's AlexNet figure): the
weights of the first convolution, shown as small images, are oriented edges and colour blobs;
deeper filters act on feature maps, not pixels, and are much less readable this way."""

from __future__ import annotations

import torch
from torch import nn

from attribution.views._common import tile
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


def filter_grid(
    filters: torch.Tensor, *, ncols: int | None = None, pad: int = 1
) -> torch.Tensor:
    """Tile filters into one image, each filter min-max scaled to ``[0, 1]`` on its own.

    Per-filter scaling, as in the lecture's AlexNet figure: filters differ in norm by an
    order of magnitude, and one shared scale would leave most of them flat grey. A constant
    filter becomes mid grey (0.5). Three-channel filters stay RGB tiles; any other channel
    count is shown as one grey tile per (filter, channel), a row per filter by default, with
    the scaling still shared across the channels of one filter. Padding is 0 (black).

    Shape:
        - filters: ``(K, C, kh, kw)``; returns ``(3, H, W)`` when ``C == 3``, else ``(1, H, W)``.
    """
    if not isinstance(filters, torch.Tensor) or filters.dim() != 4 or filters.numel() == 0:
        shape = tuple(filters.shape) if isinstance(filters, torch.Tensor) else type(filters)
        raise ValueError(f"filters must be a non-empty tensor (K, C, kh, kw), got {shape}")
    if not filters.is_floating_point() or not bool(torch.isfinite(filters).all()):
        raise ValueError("filters must be finite floating-point values")
    f = filters.detach()
    k, c = f.shape[:2]
    lo = f.amin(dim=(1, 2, 3), keepdim=True)
    span = f.amax(dim=(1, 2, 3), keepdim=True) - lo
    scaled = torch.where(span > 0, (f - lo) / span.clamp_min(torch.finfo(f.dtype).tiny), 0.5)
    if c == 3:
        return tile(scaled, ncols, pad)
    if ncols is None and c > 1:
        ncols = c
    return tile(scaled.reshape(k * c, 1, *f.shape[2:]), ncols, pad)
