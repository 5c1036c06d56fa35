"""What the three attribution-map kinds (``attribution``, ``agreement``, ``quality``) share:
which methods a job runs, the keyword arguments of one method's call for a job, and maps
brought to the input's shape so that they sit side by side.

The methods' settings (occlusion's window, SmoothGrad's samples...) come from their
registrations (``attribution.registry``); nothing here names one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from attribution import upsample
from attribution.registry import METHODS, MethodInfo
from bench.context import RunContext
from bench.schema import AUTO
from zoo.layers import last_conv

# the lecture's order: gradients first, then their refinements, then perturbation and CAM;
# it orders the maps a job stores and the rows of the tables
LECTURE_ORDER = ("saliency", "guided_backprop", "deconvnet", "smoothgrad",
                 "integrated_gradients", "occlusion", "grad_cam")


def lecture_rank(name: str) -> tuple[int, str]:
    """Sort key: the lecture's methods in its order, any other method after them by name."""
    return (LECTURE_ORDER.index(name) if name in LECTURE_ORDER else len(LECTURE_ORDER), name)


def applies(info: MethodInfo, model: nn.Module) -> bool:
    """Whether a method can run on the model: ReLU rules need ``nn.ReLU`` modules to
    override, a layer method (Grad-CAM) a convolution to read."""
    modules = list(model.modules())
    has_relu = any(isinstance(m, nn.ReLU) for m in modules)
    has_conv = any(isinstance(m, nn.Conv2d) for m in modules)
    return (has_relu or not info.needs_relu) and (has_conv or not info.needs_layer)


def resolve_methods(methods: str | list[str], model: nn.Module) -> list[str]:
    """A job's methods: the suite's list as given, or for ``"auto"`` every registered method
    that applies to the model, in the lecture's order."""
    if methods != AUTO:
        return list(methods)
    return sorted((info.name for info in METHODS if applies(info, model)), key=lecture_rank)


def call_kwargs(
    name: str, model: nn.Module, settings: Mapping[str, Any], ctx: RunContext, seed: int
) -> dict[str, Any]:
    """The keyword arguments of method ``name`` for a job: its settings from the job's
    ``settings`` (suite keys), a fresh generator seeded by the job's ``seed`` when the method
    is random, and the model's last convolution for any layer it needs and was not given."""
    info = METHODS.get(name)
    kwargs = info.kwargs(settings)
    if info.random:
        kwargs["generator"] = ctx.generator(seed)
    for param in info.layer_params:
        kwargs.setdefault(param, last_conv(model))
    return kwargs


def as_input_shaped(name: str, attribution: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Layer-shaped maps (Grad-CAM) upsampled to the image, so all maps can sit side by side."""
    if METHODS.get(name).output == "layer":
        return upsample(attribution, size)
    return attribution
