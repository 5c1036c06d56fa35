"""What the generative job kinds share: the weights fallback for torchvision models, the
layers each method is aimed at, the starting images, and one call of a method by name."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

import zoo
from bench.context import RunContext
from generative import GenResult, get_method

log = logging.getLogger(__name__)

CONTENT_PHOTO, STYLE_PHOTO = "chelsea", "immunohistochemistry"


def model_or_random(ctx: RunContext, name: str, weights: str | None) -> zoo.Classifier:
    """The model with its weights; a torchvision model whose weights file is missing runs
    with random weights instead, and its label says so (a stress test measures cost and
    numerical health, which random weights still exercise)."""
    if name in ctx.missing_weights and weights is None:
        return ctx.model(name, "random")
    try:
        return ctx.model(name, weights)
    except FileNotFoundError as err:
        if not name.startswith("tv:") or weights is not None:
            raise
        log.warning("%s; running %s with random weights", err, name)
        ctx.missing_weights.add(name)  # said once per run, not once per job
        return ctx.model(name, "random")


def layers_for(model: nn.Module) -> list[str]:
    layers = zoo.feature_layers(model)
    if not layers:
        raise ValueError("the generative methods need convolutional feature layers; "
                         "the model has none")
    return layers


def middle_layer(model: nn.Module) -> str:
    layers = layers_for(model)
    return layers[len(layers) // 2]


def style_layers(model: nn.Module) -> tuple[str, list[str]]:
    """Gatys et al.'s choice in miniature: style from up to five stages spread from the
    first to two thirds of the depth, content from a stage two thirds deep."""
    layers = layers_for(model)
    content = layers[(2 * len(layers)) // 3]
    upto = layers[: layers.index(content) + 1]
    picks = sorted({round(i * (len(upto) - 1) / 4) for i in range(5)}) if len(upto) > 5 else None
    return content, [upto[i] for i in picks] if picks else upto


def accepts_size(model: nn.Module, channels: int, side: int) -> bool:
    """Whether the model runs on ``side x side`` images (fully connected heads do not)."""
    device, dtype = next((t.device, t.dtype) for t in model.parameters())
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, side, side, device=device, dtype=dtype))
    except RuntimeError:
        return False
    return True


def images_at(model: zoo.Classifier, ctx: RunContext, size: int, count: int = 2,
              dataset: str | None = None) -> torch.Tensor:
    """``count`` images at ``size`` for the image methods: photos for colour models (the
    content photo first, the style texture second), else the model's own test images (a
    user folder's first images, resized)."""
    channels = model.input_shape[0]
    if channels == 3:
        names = [CONTENT_PHOTO, STYLE_PHOTO, *zoo.PHOTOS][:count]
        return torch.stack([zoo.load_photo(n, size) for n in names]).to(ctx.device)
    if dataset is not None and dataset in ctx.definitions.data:
        x = ctx.dataset(dataset)[0][:count]
        return TF.resize(x, [size, size], antialias=True).clamp(0, 1)
    x, _ = zoo.load_dataset(zoo.model_spec(model.name).dataset, "test", size=size)
    return x[:count].to(ctx.device)


def run_method(name: str, model: zoo.Classifier, images: torch.Tensor, *, steps: int,
               generator: torch.Generator, **overrides: Any) -> GenResult:
    """One call of a registered method on the model, aimed where ``gen_params`` aims it."""
    info = get_method(name)
    size = images.shape[-1]
    kwargs: dict[str, Any] = {"steps": steps, **overrides}
    if info.inputs == "class":
        return info(model, [0], shape=(images.shape[1], size, size), generator=generator,
                    **kwargs)
    if info.inputs == "unit":
        return info(model, kwargs.pop("layer", middle_layer(model)), [0],
                    shape=(images.shape[1], size, size), generator=generator, **kwargs)
    if info.inputs == "image":
        layer = kwargs.pop("layer", middle_layer(model))
        if name == "deep_dream" and "octaves" not in kwargs:
            small = round(size / 1.4**2)
            kwargs["octaves"] = 3 if small >= 8 and accepts_size(model, images.shape[1],
                                                                  small) else 1
        return info(model, images[:1], layer, generator=generator, **kwargs)
    content, styles = style_layers(model)
    return info(model, images[:1], images[1:2], content_layer=content, style_layers=styles,
                generator=generator, **kwargs)
