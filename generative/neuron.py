"""Neuron and channel visualisation (Yosinski et al. 2015, "Understanding Neural Networks
Through Deep Visualization"): the image that maximises one unit of any layer, either a whole
channel (its mean over the feature map) or the single unit at one position, under the same
L2 penalty and switchable regularisers as the class model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from generative.activation_max import check_indices, maximise, prepare
from generative.common import check_layers, check_method_model, layer_outputs
from generative.registry import register
from generative.regularisers import Regulariser
from generative.result import GenResult
from zoo.params import Iterations, NonNegative, NonNegativeInt, Positive


@register("neuron_visualisation", paper="Yosinski et al. 2015", inputs="unit")
def neuron_visualisation(
    model: nn.Module,
    layer: str,
    channel: int | Sequence[int],
    *,
    position: tuple[NonNegativeInt, NonNegativeInt] | None = None,
    steps: Iterations = 100,
    lr: Positive = 0.02,
    l2: NonNegative = 1e-3,
    regularisers: Sequence[Regulariser] = (),
    shape: tuple[int, int, int] | None = None,
    init: torch.Tensor | None = None,
    noise: NonNegative = 0.1,
    optimizer: Literal["adam", "sgd"] = "adam",
    generator: torch.Generator | None = None,
) -> GenResult:
    """Maximise the activation of ``channel`` of ``layer``, one image per channel: its mean
    over all positions, or the unit at ``position=(row, col)`` of the layer's output map.
    A 2-D layer output ``(N, F)`` (a Linear layer) takes ``channel`` in ``F`` and no
    ``position``. The objective minimised is the terms ``activation`` (minus the sum over
    images) and ``l2``; optimisers, start and regularisers are as in ``class_model``. The
    noisy start (``noise=0.1``) breaks the symmetry a flat image leaves between positions.

    The channel and position are checked against one no-grad probe forward of the first
    starting image, the only model call made before the error.

    Shape:
        - channel: an int or ``(N,)`` indices; init: ``(N, C, H, W)`` or ``(1, C, H, W)``.
        - returns a ``GenResult`` whose image is ``(N, C, H, W)`` in ``[0, 1]``.
    """
    model = check_method_model(model, "neuron_visualisation")
    (layer,) = check_layers(model, [layer], "layer")
    channels = check_indices(channel, "channel")
    setup = prepare(model, len(channels), method="neuron_visualisation", steps=steps, lr=lr,
                    l2=l2, regularisers=regularisers, shape=shape, init=init, noise=noise,
                    optimizer=optimizer, generator=generator)
    setup.settings.update(layer=layer, channels=channels,
                          position=None if position is None else tuple(position))
    with layer_outputs(model, [layer]) as out:
        with torch.no_grad():
            model(setup.x0[:1])
        if layer not in out:
            raise ValueError(f"layer {layer!r} did not run in the model's forward pass")
        _check_unit(tuple(out[layer].shape), layer, channels, position)
        index = torch.tensor(channels, device=setup.x0.device)
        rows = torch.arange(len(channels), device=setup.x0.device)

        def score(x: torch.Tensor) -> torch.Tensor:
            model(x)
            act = out[layer][rows, index]  # (N,) or (N, H', W'): each image's own channel
            if act.dim() == 1:
                return act.sum()
            if position is not None:
                return act[:, position[0], position[1]].sum()
            return act.flatten(1).mean(dim=1).sum()

        return maximise(model, setup, "activation", score)


def _check_unit(shape: tuple[int, ...], layer: str, channels: list[int],
                position: Sequence[int] | None) -> None:
    if len(shape) not in (2, 4):
        raise ValueError(f"layer {layer!r} outputs shape {shape}; need (N, C, H, W) or (N, F)")
    if max(channels) >= shape[1]:
        raise ValueError(f"channel {max(channels)} is out of range: layer {layer!r} has "
                         f"{shape[1]} channels")
    if position is not None:
        if len(shape) == 2:
            raise ValueError(f"position must be None for layer {layer!r} with 2-D output")
        if position[0] >= shape[2] or position[1] >= shape[3]:
            raise ValueError(f"position {tuple(position)} is outside layer {layer!r}'s "
                             f"{shape[2]}x{shape[3]} map")
