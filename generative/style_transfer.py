"""Neural style transfer (Gatys, Ecker and Bethge 2016, "Image Style Transfer Using
Convolutional Neural Networks"): an image whose activations at one layer match a content
image and whose Gram matrices (channel co-activations, blind to position) at several layers
match a style image, smoothed by a total-variation prior. L-BFGS over the pixels, as in the
paper, or Adam.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from generative.common import (
    check_generator,
    check_images,
    check_layers,
    check_method_model,
    check_positive,
    check_weight,
    layer_outputs,
    starting_image,
)
from generative.optimise import optimise_image
from generative.priors import total_variation
from generative.registry import get_method, register
from generative.result import GenResult
from zoo.checks import check_choice, check_count

NAME = "style_transfer"
#: the step size each optimiser gets when ``lr`` is not given
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
INITS = ("content", "noise")


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``F F^T / (C H W)`` with ``F`` the ``(C, H*W)`` feature matrix of each image.

    Shape:
        - features: ``(N, C, H, W)``; returns ``(N, C, C)``.
    """
    if features.dim() != 4:
        raise ValueError(f"features must have shape (N, C, H, W), got {tuple(features.shape)}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def _squared_norm(t: torch.Tensor) -> torch.Tensor:
    """Each image's squared L2 norm, ``(N,)``."""
    return t.square().flatten(1).sum(dim=1)


@register(NAME, paper="Gatys et al. 2016", inputs="pair", optimizers=("lbfgs", "adam"))
def style_transfer(
    model: nn.Module,
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    content_layer: str,
    style_layers: Sequence[str],
    content_weight: float = 1.0,
    style_weight: float = 10.0,
    tv_weight: float = 0.01,
    optimizer: str = "lbfgs",
    steps: int = 50,
    lr: float | None = None,
    init: str = "content",
    noise: float = 0.1,
    generator: torch.Generator | None = None,
) -> GenResult:
    """Paint ``content`` in the style of ``style``.

    Terms: ``content``, ``content_weight`` times the squared distance of the activations at
    ``content_layer`` from the content image's, relative to their squared norm; ``style``,
    ``style_weight`` times the sum over ``style_layers`` (equal weights) of the squared
    distance of Gram matrices from the style image's, relative to theirs; ``tv``,
    ``tv_weight`` times ``TV_1`` per pixel; each averaged over the images. Gatys et al. divide
    by layer sizes instead, which leaves a weight ratio that depends on the network (their
    alpha/beta of 1e-3 to 1e-4 is for VGG-19); relative distances make one set of weights
    work on any model: each term starts near 1 where it is not satisfied. ``init="content"``
    starts from the content image, ``"noise"`` from the neutral image plus ``noise`` times
    Gaussian noise from ``generator``. ``lr`` defaults to ``DEFAULT_LR[optimizer]``.

    Shape:
        - content: ``(N, C, H, W)`` in ``[0, 1]``; style: ``(1 or N, C, H', W')`` in
          ``[0, 1]`` (any size); returns an image like ``content``.
    """
    model = check_method_model(model, NAME)
    content = check_images(content, "content")
    style = check_images(style, "style")
    if style.shape[0] not in (1, content.shape[0]) or style.shape[1] != content.shape[1]:
        raise ValueError(f"style must have shape (1 or {content.shape[0]}, {content.shape[1]}, "
                         f"H', W') to match content, got {tuple(style.shape)}")
    (content_layer,) = check_layers(model, content_layer, "content_layer")
    if isinstance(style_layers, str):
        raise ValueError(f"style_layers must be a list of layer names, got {style_layers!r}")
    style_layers = check_layers(model, style_layers, "style_layers")
    content_weight = check_weight(content_weight, "content_weight")
    style_weight = check_weight(style_weight, "style_weight")
    tv_weight = check_weight(tv_weight, "tv_weight")
    optimizer = check_choice(optimizer, "optimizer", get_method(NAME).optimizers)
    steps = check_count(steps, "steps", minimum=1)
    lr = DEFAULT_LR[optimizer] if lr is None else check_positive(lr, "lr")
    init = check_choice(init, "init", INITS)
    noise = check_weight(noise, "noise")
    generator = check_generator(generator, content)
    style = style.to(content.device, content.dtype)

    start = content if init == "content" else starting_image(model, content, noise=noise,
                                                             generator=generator)
    pixels = content.shape[-2] * content.shape[-1]
    layers = list(dict.fromkeys([content_layer, *style_layers]))

    with layer_outputs(model, layers) as outputs:
        with torch.no_grad():  # the targets, once, up front
            model(content)
            content_target = outputs[content_layer].detach().clone()
            # (N,), kept away from zero for an all-zero target
            content_norm = _squared_norm(content_target).clamp_min(1e-12)
            model(style)
            style_targets = {k: gram_matrix(outputs[k]).detach() for k in style_layers}
            style_norms = {k: _squared_norm(g).clamp_min(1e-12)  # (1 or N,)
                           for k, g in style_targets.items()}

        def objective(image: torch.Tensor, step: int) -> Mapping[str, torch.Tensor]:
            model(image)  # one forward records every layer
            content_loss = (_squared_norm(outputs[content_layer] - content_target)
                            / content_norm).mean()
            style_loss = torch.stack([
                (_squared_norm(gram_matrix(outputs[k]) - style_targets[k]) / style_norms[k]).mean()
                for k in style_layers
            ]).sum()  # a (1, C, C) style target broadcasts over the batch
            tv = total_variation(image, 1.0).mean() / pixels
            return {"content": content_weight * content_loss, "style": style_weight * style_loss,
                    "tv": tv_weight * tv}

        trace = optimise_image(model, objective, start, steps=steps, optimizer=optimizer, lr=lr)

    settings: dict[str, Any] = dict(
        method=NAME, content_layer=content_layer, style_layers=list(style_layers),
        content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        optimizer=optimizer, steps=steps, lr=lr, init=init, noise=noise,
    )
    return GenResult(trace.image, trace.losses, settings, trace.terms, trace.evaluations)
