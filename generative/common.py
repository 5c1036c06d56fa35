"""Pieces the generative methods share: input checks, the neutral starting image, a hook that
records one layer's output, and the settings record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from zoo.checks import check_generator, check_images, check_nonnegative  # noqa: F401
from zoo.errors import UnknownNameError, UserError
from zoo.guard import check_model, num_classes, warn_if_training
from zoo.hooks import HookSet, get_layer
from zoo.normalize import Normalize


def check_method_model(model: object, method: str) -> nn.Module:
    model = check_model(model)
    warn_if_training(model, method)
    return model


def check_classes(model: nn.Module, target: object) -> torch.Tensor:
    """``target``: a class index or a sequence/tensor of them, one image each -> ``(N,)``."""
    if isinstance(target, bool):
        raise UserError(f"target must be a class index, got {target!r}")
    if isinstance(target, int):
        target = [target]
    if isinstance(target, torch.Tensor):
        if target.is_floating_point() or target.dim() > 1:
            raise UserError(f"target must be integer class indices, got {target!r}")
        target = target.flatten().tolist()
    if not isinstance(target, Sequence) or not target or any(
        isinstance(t, bool) or not isinstance(t, int) for t in target
    ):
        raise UserError(f"target must be a class index or a non-empty list of them, "
                         f"got {target!r}")
    classes = num_classes(model)
    for t in target:
        if t < 0 or (classes is not None and t >= classes):
            raise UserError(f"target {t} is out of range for a model with {classes} classes")
    return torch.tensor(list(target), dtype=torch.int64)


def check_shape(model: nn.Module, shape: object) -> tuple[int, int, int]:
    """The ``(C, H, W)`` of the images to make: ``shape`` when given, else the model's
    declared ``input_shape``; every side a positive integer."""
    if shape is None:
        shape = getattr(model, "input_shape", None)
        if shape is None:
            raise UserError("shape=(C, H, W) is needed: the model declares no input_shape")
    if (not isinstance(shape, (tuple, list)) or len(shape) != 3
            or any(isinstance(s, bool) or not isinstance(s, int) for s in shape)):
        raise UserError(f"shape must be (C, H, W) integers, got {shape!r}")
    if min(shape) < 1:
        raise UserError(f"shape must have positive sides, got {tuple(shape)} (zero-size image)")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def check_layers(model: nn.Module, layers: object, name: str = "layers") -> list[str]:
    """One qualified module name or a non-empty list of them; ``KeyError`` for unknown ones."""
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, (list, tuple)) or not layers:
        raise UnknownNameError(f"{name} must be a module name or a non-empty list of them, "
                       f"got {layers!r}")
    for layer in layers:
        if not isinstance(layer, str):
            raise UnknownNameError(f"{name} must hold qualified module names (str), got {layer!r}")
        get_layer(model, layer)
    return list(layers)


def neutral_value(model: nn.Module, channels: int, like: torch.Tensor) -> torch.Tensor:
    """The pixel value that the model's own normalisation maps to zero (the dataset mean),
    ``(1, C, 1, 1)``; 0.5 grey when the model has no ``zoo`` ``Normalize`` module. This is
    the "zero image" the papers start from, expressed in pixel space."""
    for m in model.modules():
        if isinstance(m, Normalize) and m.mean.numel() == channels:
            return m.mean.detach().to(like.device, like.dtype).view(1, channels, 1, 1).clone()
    return torch.full((1, channels, 1, 1), 0.5, device=like.device, dtype=like.dtype)


def starting_image(model: nn.Module, like: torch.Tensor, *, noise: float,
                   generator: torch.Generator | None) -> torch.Tensor:
    """The model's neutral image plus ``noise`` times Gaussian noise from ``generator``,
    clamped to ``[0, 1]``: where the optimisations start when no image is given.

    Shape:
        - like: ``(N, C, H, W)`` (only its shape, device and dtype are used); returns the same.
    """
    centre = neutral_value(model, like.shape[1], like)
    start = centre.expand(like.shape).clone()
    if noise > 0:
        randn = torch.randn(like.shape, generator=generator, device=like.device,
                            dtype=like.dtype)
        start = (start + noise * randn).clamp(0.0, 1.0)
    return start


def model_device(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where a model's parameters live, for methods that start from no image."""
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device, t.dtype
    return torch.device("cpu"), torch.float32


@contextmanager
def layer_outputs(model: nn.Module, layers: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of ``layers`` on each forward pass into the yielded dict (the latest
    pass wins). The network downstream gets a clone, so in-place ops after a layer (ReLU
    ``inplace=True``, ResNet's ``out += identity``) cannot rewrite what was recorded. Hooks
    are removed on exit, also on error."""
    outputs: dict[str, torch.Tensor] = {}

    def keeper(name: str) -> Any:
        def keep(module: nn.Module, args: tuple[Any, ...], out: Any) -> torch.Tensor:
            if not isinstance(out, torch.Tensor):
                raise UserError(f"layer {name!r} must output one tensor, "
                                 f"got {type(out).__name__}")
            outputs[name] = out
            return out.clone()

        return keep

    with HookSet() as hooks:
        for name in layers:
            hooks.forward(get_layer(model, name), keeper(name))
        yield outputs
