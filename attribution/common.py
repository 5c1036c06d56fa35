"""Pieces every attribution method shares: the input checks, the target scores, and the
input gradient of the summed target scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from zoo.checks import check_generator, check_images, check_labels  # noqa: F401
from zoo.errors import UnknownNameError, UserError
from zoo.gradients import INSTEAD_ATTRIBUTION
from zoo.gradients import input_gradient as gradient_of
from zoo.guard import check_model, num_classes, warn_if_training
from zoo.hooks import get_layer


def check_target(target: object, n: int, classes: int | None) -> torch.Tensor:
    """``target``: an int (the same class for every image) or an integer tensor ``(N,)``."""
    if isinstance(target, bool):
        raise UserError(f"target must be an int or an integer tensor (N,), got {target!r}")
    if isinstance(target, int):
        if target < 0 or (classes is not None and target >= classes):
            raise UserError(f"target {target} is out of range for a model with {classes} "
                             "classes")
        return torch.full((n,), target, dtype=torch.int64)
    return check_labels(target, n, classes, name="target").to(torch.int64)


def check_inputs(
    model: object, x: object, target: object, method: str
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """Validate the arguments every method takes; warn when the model is training."""
    model = check_model(model)
    x = check_images(x)
    target = check_target(target, x.shape[0], num_classes(model)).to(x.device)
    warn_if_training(model, method)
    return model, x, target


def check_layer(model: nn.Module, layer: object) -> nn.Module:
    """A submodule by qualified name; ``KeyError`` naming ``layer`` when there is none."""
    if not isinstance(layer, str):
        raise UnknownNameError(f"layer must be a qualified module name (str), got {layer!r}")
    return get_layer(model, layer)




def target_scores(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The raw logit of each image's target class, shape ``(N,)``; checks the logits' width."""
    if logits.dim() != 2 or logits.shape[0] != target.shape[0]:
        raise UserError(f"model must return logits (N, classes), got {tuple(logits.shape)}")
    if int(target.max()) >= logits.shape[1]:
        raise UserError(f"target holds class {int(target.max())}, the model has "
                         f"{logits.shape[1]} outputs")
    return logits.gather(1, target.view(-1, 1)).squeeze(1)


def input_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient of the summed target scores w.r.t. ``x``: each image's gradient is its own
    (eval mode), and no parameter's ``.grad`` is touched. ``NoGradientError`` (a
    ``UserError``) when the model's output has no autograd path to ``x``.

    Shape:
        - x: ``(N, C, H, W)``; target: ``(N,)``; returns ``(N, C, H, W)``.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        scores = target_scores(model(x), target)
        grad = gradient_of(scores.sum(), x, instead=INSTEAD_ATTRIBUTION)
    return grad.detach()


def output_keeper(layer: str, captured: list[torch.Tensor]) -> Callable[..., torch.Tensor]:
    """A forward hook that appends ``layer``'s output to ``captured`` and hands the rest of the
    network a copy, so downstream in-place ops (ResNet's ``out += identity``) cannot rewrite
    the tensor whose gradient is taken."""

    def keep(module: nn.Module, args: tuple[Any, ...], out: Any) -> torch.Tensor:
        if not isinstance(out, torch.Tensor):
            raise UserError(f"layer {layer!r} must output one tensor, got {type(out).__name__}")
        captured.append(out)
        return out.clone()

    return keep
