"""Neural style transfer (Gatys, Ecker and Bethge 2016, "Image Style Transfer Using
Convolutional Neural Networks"): an image whose activations at one layer match a content
image and whose Gram matrices (channel co-activations, blind to position) at several layers
match a style image, smoothed by a total-variation prior. L-BFGS over the pixels, as in the
paper, or Adam.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import nn

from generative.common import (
    check_generator,
    check_images,
    check_layers,
    check_method_model,
    layer_outputs,
    starting_image,
)
from generative.optimise import optimise_image
from generative.priors import total_variation
from generative.registry import register
from generative.result import GenResult
from zoo.params import Iterations, Layer, NonNegative, Positive

NAME = "style_transfer"
#: the step size each optimiser gets when ``lr`` is not given
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


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


def _targets(
    model: nn.Module, outputs: dict[str, torch.Tensor], content: torch.Tensor,
    style: torch.Tensor, content_layer: str, style_layers: Sequence[str],
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """What the objective matches, computed once up front: the content image's activations
    at ``content_layer`` and their squared norm ``(N,)``, the style image's Gram matrices at
    ``style_layers`` and theirs ``(1 or N,)``; norms kept away from zero for an all-zero
    target."""
    with torch.no_grad():
        model(content)
        content_target = outputs[content_layer].detach().clone()
        content_norm = _squared_norm(content_target).clamp_min(1e-12)
        model(style)
        style_targets = {k: gram_matrix(outputs[k]).detach() for k in style_layers}
        style_norms = {k: _squared_norm(g).clamp_min(1e-12) for k, g in style_targets.items()}
    return content_target, content_norm, style_targets, style_norms


def _squared_norm(t: torch.Tensor) -> torch.Tensor:
    """Each image's squared L2 norm, ``(N,)``."""
    return t.square().flatten(1).sum(dim=1)


@register(NAME, paper="Gatys et al. 2016", inputs="pair")
def style_transfer(
    model: nn.Module,
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    content_layer: Layer,
    style_layers: Sequence[Layer],
    content_weight: NonNegative = 1.0,
    style_weight: NonNegative = 10.0,
    tv_weight: NonNegative = 0.01,
    optimizer: Literal["lbfgs", "adam"] = "lbfgs",
    steps: Iterations = 50,
    lr: Positive | None = None,
    init: Literal["content", "noise"] = "content",
    noise: NonNegative = 0.1,
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
    style_layers = check_layers(model, style_layers, "style_layers")
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    generator = check_generator(generator, content)
    style = style.to(content.device, content.dtype)

    start = content if init == "content" else starting_image(model, content, noise=noise,
                                                             generator=generator)
    pixels = content.shape[-2] * content.shape[-1]
    layers = list(dict.fromkeys([content_layer, *style_layers]))

    with layer_outputs(model, layers) as outputs:
        content_target, content_norm, style_targets, style_norms = _targets(
            model, outputs, content, style, content_layer, style_layers)

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
