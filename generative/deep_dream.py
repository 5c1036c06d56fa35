"""DeepDream (Mordvintsev, Olah and Tyka 2015, "Inceptionism: Going Deeper into Neural
Networks"): amplify whatever a layer already sees in an image. The gradient at the layer is
set to the activation itself (the objective ``0.5 * a^2``), the step is normalised by the
gradient's mean absolute value, the image is jittered before every forward pass, and the
image is processed in octaves, from small to full size, carrying the dreamed "detail" up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import torch
import torchvision.transforms.v2.functional as TF
from torch import nn

from generative.common import (
    check_generator,
    check_images,
    check_layers,
    check_method_model,
    layer_outputs,
)
from generative.optimise import optimise_image
from generative.registry import register
from generative.regularisers import Jitter
from generative.result import GenResult
from zoo.params import AtLeast, Iterations, NonNegativeInt, Positive, PositiveInt

NAME = "deep_dream"
#: the smallest side an octave may have
MIN_OCTAVE_SIDE = 8


@register(NAME, paper="Mordvintsev et al. 2015", inputs="image")
def deep_dream(
    model: nn.Module,
    x: torch.Tensor,
    layer: str,
    *,
    steps: Iterations = 10,
    lr: Positive = 0.02,
    octaves: PositiveInt = 3,
    octave_scale: Annotated[float, AtLeast(1.0)] = 1.4,
    jitter: NonNegativeInt = 4,
    optimizer: Literal["sgd"] = "sgd",
    generator: torch.Generator | None = None,
) -> GenResult:
    """Dream ``x`` at ``layer``: ``steps`` normalised gradient steps per octave, ``octaves``
    sizes from ``H / octave_scale^(octaves - 1)`` up to the full size.

    The objective is ``-0.5 * mean(a^2)`` over the layer's activations (a mean, so octaves of
    different sizes are comparable); each step is ``x += lr * g / mean|g|`` per image.
    ``losses`` concatenates the octaves' traces (``octaves * (steps + 1)`` values).

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; returns an image like ``x``.
    """
    model = check_method_model(model, NAME)
    x = check_images(x, "x")
    (layer,) = check_layers(model, layer, "layer")
    generator = check_generator(generator, x)
    sizes = octave_sizes(x.shape[-2:], octaves, octave_scale)

    shifter = Jitter(jitter)
    traces = []
    detail = torch.zeros_like(x[..., : sizes[0][0], : sizes[0][1]])
    image = x
    with layer_outputs(model, [layer]) as outputs:
        for size in sizes:
            base = x if size == tuple(x.shape[-2:]) else TF.resize(x, list(size), antialias=True)
            if detail.shape[-2:] != base.shape[-2:]:
                detail = TF.resize(detail, list(size), antialias=True)
            offsets = shifter.offsets(steps + 1, generator, x.device)

            def objective(image: torch.Tensor, step: int,
                          offsets: list[tuple[int, int]] = offsets) -> Mapping[str, torch.Tensor]:
                model(Jitter.shift(image, offsets[step]))
                return {"activation": -0.5 * outputs[layer].square().mean()}

            trace = optimise_image(model, objective, (base + detail).clamp(0.0, 1.0),
                                   steps=steps, optimizer=optimizer, lr=lr,
                                   grad_transform=_normalise)
            traces.append(trace)
            image = trace.image
            detail = image - base

    settings: dict[str, Any] = dict(
        method=NAME, layer=layer, steps=steps, lr=lr, octaves=octaves,
        octave_scale=octave_scale, jitter=jitter, optimizer=optimizer, octave_sizes=sizes,
    )
    losses = torch.cat([t.losses for t in traces])
    terms = {"activation": torch.cat([t.terms["activation"] for t in traces])}
    return GenResult(image, losses, settings, terms, sum(t.evaluations for t in traces))


def octave_sizes(shape: tuple[int, int] | torch.Size, octaves: int,
                 octave_scale: float) -> list[tuple[int, int]]:
    """The ``(H, W)`` of each octave, smallest first, the last the full size. ``ValueError``
    when a downscaled octave would have a side under ``MIN_OCTAVE_SIDE`` pixels."""
    height, width = int(shape[0]), int(shape[1])
    sizes = []
    for i in range(octaves):
        factor = octave_scale ** (octaves - 1 - i)
        sizes.append((max(1, round(height / factor)), max(1, round(width / factor))))
    if octaves > 1 and min(sizes[0]) < MIN_OCTAVE_SIDE:
        raise ValueError(
            f"octaves={octaves} with octave_scale={octave_scale} would shrink the "
            f"{height}x{width} image to {sizes[0][0]}x{sizes[0][1]}, under "
            f"{MIN_OCTAVE_SIDE} px: use fewer octaves or a smaller octave_scale")
    return sizes


def _normalise(grad: torch.Tensor) -> torch.Tensor:
    """Divide each image's gradient by its mean absolute value (the paper's normalised step).

    Shape:
        - grad: ``(N, C, H, W)``; returns the same.
    """
    scale = grad.abs().mean(dim=tuple(range(1, grad.dim())), keepdim=True)
    return grad / (scale + 1e-12)

