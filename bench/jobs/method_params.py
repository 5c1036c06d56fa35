"""Hyperparameters of attribution methods as suites give them, and the keyword arguments each
method takes: shared by the ``attribution`` and ``agreement`` job kinds.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from attribution import get_method, list_methods, upsample
from bench.context import RunContext

# suite keys and their defaults; each method reads only its own
METHOD_DEFAULTS: dict[str, Any] = {
    "window": 4,  # occlusion: a 4x4 patch (1/7 of an MNIST digit's side)
    "stride": 2,
    "samples": 16,  # SmoothGrad: Smilkov et al. report little change past ~50; 16 is cheap
    "sigma": 0.15,  # SmoothGrad noise, pixel units (the paper's 10-20% of the range)
    "ig_steps": 32,  # integrated gradients, Gauss-Legendre nodes
    "layer": None,  # Grad-CAM layer; None: the model's last nn.Conv2d
    "methods": "auto",
}


def resolve_methods(methods: str | list[str], model: nn.Module) -> list[str]:
    """A job's methods: the suite's list as given, or for ``"auto"`` every registered method
    that applies to the model (ReLU rules need ``nn.ReLU`` modules, Grad-CAM a conv layer)."""
    if methods != "auto":
        return list(methods)
    has_relu = any(isinstance(m, nn.ReLU) for m in model.modules())
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    names = sorted(list_methods(), key=lambda m: (
        LECTURE_ORDER.index(m) if m in LECTURE_ORDER else len(LECTURE_ORDER), m))
    return [
        name for name in names
        if (has_relu or not get_method(name).needs_relu)
        and (has_conv or not get_method(name).needs_layer)
    ]


# the lecture's order: gradients first, then their refinements, then perturbation and CAM
LECTURE_ORDER = ("saliency", "guided_backprop", "deconvnet", "smoothgrad",
                 "integrated_gradients", "occlusion", "grad_cam")


def last_conv(model: nn.Module) -> str:
    """Grad-CAM's default layer: the last convolution's activation (the ReLU module right
    after the last ``nn.Conv2d``, as in Selvaraju et al.'s VGG set-up), else the conv itself."""
    modules = list(model.named_modules())
    convs = [i for i, (_, m) in enumerate(modules) if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("grad_cam needs a convolutional layer and the model has none")
    i = convs[-1]
    if i + 1 < len(modules) and isinstance(modules[i + 1][1], nn.ReLU):
        return modules[i + 1][0]
    return modules[i][0]


def method_kwargs(
    name: str, model: nn.Module, p: dict[str, Any], ctx: RunContext
) -> dict[str, Any]:
    """The keyword arguments of method ``name`` for a job's parameters ``p``."""
    if name == "occlusion":
        return {"window": p["window"], "stride": p["stride"]}
    if name == "smoothgrad":
        return {"samples": p["samples"], "sigma": p["sigma"],
                "generator": ctx.generator(p["seed"])}
    if name == "integrated_gradients":
        return {"steps": p["ig_steps"]}
    if name == "grad_cam":
        return {"layer": p.get("layer") or last_conv(model)}
    return {}


def as_input_shaped(name: str, attribution: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Layer-shaped maps (Grad-CAM) upsampled to the image, so all maps can sit side by side."""
    if get_method(name).output == "layer":
        return upsample(attribution, size)
    return attribution
