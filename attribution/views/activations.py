"""Live activations (Yosinski, Clune, Nguyen, Fuchs and Lipson 2015, "Understanding Neural
Networks Through Deep Visualization", the deep visualization toolbox shown in CS231n lecture
9): every channel of a layer as a small image, and, with a grey patch sliding over the input,
which channels respond to which region of it."""

from __future__ import annotations

import torch
from torch import nn

from attribution.common import check_layer
from attribution.views._common import capture, tile, window_masks
from zoo.checks import check_images, check_window
from zoo.guard import check_model, keeps_buffers, warn_if_training
from zoo.params import PositiveInt, checked

#: a window or stride over ``(H, W)``: one side for both, or one each
Window = PositiveInt | tuple[PositiveInt, PositiveInt]


@keeps_buffers
def activations(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """The output of ``layer`` for each image: the feature maps of all its channels.

    Read with a forward hook on the layer's first run; the forward pass stops there.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; returns the layer's output, ``(N, K, h, w)`` for a
          convolutional layer (``(N, K)`` for a flat one), detached.
    """
    model = check_model(model)
    x = check_images(x)
    module = check_layer(model, layer)
    warn_if_training(model, "activations")
    return capture(model, module, x, layer)


@keeps_buffers
@checked
def occluded_activations(
    model: nn.Module,
    x: torch.Tensor,
    layer: str,
    *,
    window: Window,
    stride: Window,
    baseline: float = 0.5,
    batch_size: PositiveInt = 64,
) -> torch.Tensor:
    """Mean activation of every channel of ``layer`` as a ``baseline``-grey square slides over
    one image: row ``p`` is the layer's response with window ``p`` covered, so a channel whose
    value drops at some rows depends on those regions.

    Window positions are whole windows, row-major, as in ``occlusion_positions``. The result
    does not depend on ``batch_size`` (occluded images per forward pass).

    Shape:
        - x: ``(1, C, H, W)`` in ``[0, 1]``; returns ``(P, K)`` with
          ``P = ((H - wh) // sh + 1) * ((W - ww) // sw + 1)``.
    """
    model = check_model(model)
    x = check_images(x)
    if x.shape[0] != 1:
        raise ValueError(f"x must hold one image (1, C, H, W), got {tuple(x.shape)}")
    module = check_layer(model, layer)
    win, step = check_window(window, stride, (x.shape[2], x.shape[3]))
    warn_if_training(model, "occluded_activations")
    masks = window_masks((x.shape[2], x.shape[3]), win, step, x.device)  # (P, 1, H, W)
    rows = []
    for first in range(0, masks.shape[0], batch_size):
        occluded = torch.where(masks[first:first + batch_size], float(baseline), x)
        acts = capture(model, module, occluded, layer)
        rows.append(acts.flatten(2).mean(dim=2) if acts.dim() > 2 else acts)
    return torch.cat(rows)


@checked
def occlusion_positions(
    size: tuple[int, int], *, window: Window, stride: Window
) -> torch.Tensor:
    """Top-left corner ``(row, col)`` of each window position used by
    ``occluded_activations`` and ``views.occlusion_probability_map``, row-major.

    Shape:
        - returns ``(P, 2)``, int64.
    """
    if (not isinstance(size, tuple) or len(size) != 2
            or not all(isinstance(s, int) and s >= 1 for s in size)):
        raise ValueError(f"size must be a tuple (H, W) of positive ints, got {size!r}")
    win, step = check_window(window, stride, size)
    rows = torch.arange(0, size[0] - win[0] + 1, step[0])
    cols = torch.arange(0, size[1] - win[1] + 1, step[1])
    return torch.cartesian_prod(rows, cols).view(-1, 2)


def activation_grid(
    maps: torch.Tensor, *, ncols: int | None = None, pad: int = 1
) -> torch.Tensor:
    """One image's channels tiled into one grey image, raw values (no scaling: that belongs to
    the report, and a shared scale keeps strong and weak channels comparable), padding 0.

    Shape:
        - maps: ``(K, h, w)`` or ``(1, K, h, w)``; returns ``(1, H, W)``.
    """
    if isinstance(maps, torch.Tensor) and maps.dim() == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if not isinstance(maps, torch.Tensor) or maps.dim() != 3 or maps.numel() == 0:
        shape = tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps)
        raise ValueError(f"maps must be one image's feature maps (K, h, w), got {shape}")
    if not maps.is_floating_point():
        raise ValueError(f"maps must be floating point, got {maps.dtype}")
    return tile(maps.detach().unsqueeze(1), ncols, pad)
