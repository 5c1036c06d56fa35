"""What the generative kinds (``gallery``, ``stress``) and the perf suite share: one call of a
registered generative method aimed at a model: the positional arguments its ``GenInfo.inputs``
asks for (class 0, channel 0 of the middle feature stage, the first image, or the first two as
content and style), the layers ``zoo.layers`` picks, and DeepDream's octaves cut to one where a
smaller image would not run through the model (a fully connected head takes one size only)."""

from __future__ import annotations

from typing import Any

import torch

import zoo
from generative import GenResult
from generative.deep_dream import MIN_OCTAVE_SIDE, octave_sizes
from generative.deep_dream import NAME as DEEP_DREAM
from generative.registry import METHODS
from zoo.layers import accepts_size, middle_layer, style_layers


def aim(method: str, model: zoo.Classifier, images: torch.Tensor,
        **kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    """The positional arguments after ``model`` and the keyword arguments (``kwargs`` plus
    the aim) for one call of ``method``; ``images`` is ``(N, C, S, S)``, two of them for a
    method that takes a pair. ``layer`` in ``kwargs`` replaces the middle feature stage for
    a method that takes a layer positionally. Probes the model (DeepDream's octaves), so call
    it outside anything timed."""
    info = METHODS.get(method)
    kwargs = dict(kwargs)
    channels, size = images.shape[1], images.shape[-1]
    if info.inputs == "class":
        kwargs.setdefault("shape", (channels, size, size))
        return [[0]], kwargs
    if info.inputs == "unit":
        kwargs.setdefault("shape", (channels, size, size))
        return [kwargs.pop("layer", None) or middle_layer(model), [0]], kwargs
    if info.inputs == "image":
        layer = kwargs.pop("layer", None) or middle_layer(model)
        if info.name == DEEP_DREAM and "octaves" not in kwargs:
            kwargs["octaves"] = dream_octaves(model, channels, size, kwargs.get("octave_scale"))
        return [images[:1], layer], kwargs
    content, styles = style_layers(model)
    kwargs.setdefault("content_layer", content)
    kwargs.setdefault("style_layers", styles)
    return [images[:1], images[1:2]], kwargs


def run_method(method: str, model: zoo.Classifier, images: torch.Tensor, *, steps: int,
               generator: torch.Generator, **overrides: Any) -> GenResult:
    """One call of the registered ``method`` on ``model``, aimed by ``aim``."""
    args, kwargs = aim(method, model, images, steps=steps, **overrides)
    return METHODS.get(method)(model, *args, generator=generator, **kwargs)


def dream_octaves(model: zoo.Classifier, channels: int, side: int,
                  octave_scale: float | None = None) -> int:
    """DeepDream's default octaves when its smallest octave is at least ``MIN_OCTAVE_SIDE``
    pixels and the model runs at every octave's size, else one (the image's own size)."""
    info = METHODS.get(DEEP_DREAM)
    octaves = info.params["octaves"].default
    scale = octave_scale if octave_scale is not None else info.params["octave_scale"].default
    small = round(side / scale ** (octaves - 1))
    if small < MIN_OCTAVE_SIDE:
        return 1
    sizes = {h for h, _ in octave_sizes((side, side), octaves, scale)}
    return octaves if all(accepts_size(model, channels, s) for s in sizes) else 1
