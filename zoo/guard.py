"""Keeping the no-side-effects contract: the training-mode warning, parameter freezing, and
a snapshot of everything a method may not change (used by the tests and by the harness).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn

from zoo.checks import check_images
from zoo.errors import UserError

T = TypeVar("T")


def warn_if_training(model: nn.Module, method: str = "this method") -> None:
    """Warn (never switch modes) when any module of ``model`` is in training mode.

    In training mode dropout is random and batch norm normalises with the batch's own
    statistics, so the result depends on the batch; the running statistics it updates are
    not kept: every registered method and evaluation function runs inside ``buffers_kept``,
    which copies every buffer back afterwards, also when the call raises."""
    if any(m.training for m in model.modules()):
        warnings.warn(
            f"{method} was given a model in training mode: dropout and batch statistics make "
            "its output random (its running buffers are restored afterwards). Call "
            "model.eval() first.",
            RuntimeWarning,
            stacklevel=3,
        )


def check_model(model: object, name: str = "model") -> nn.Module:
    """Check that ``model`` is a module with at least one parameter or buffer to run on."""
    if not isinstance(model, nn.Module):
        raise UserError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


#: the tensor method that converts to each floating dtype, for the messages
_CASTS = {torch.float32: "float", torch.float64: "double", torch.float16: "half",
          torch.bfloat16: "bfloat16"}


def _cast(dtype: torch.dtype) -> str:
    return f".{_CASTS[dtype]}()" if dtype in _CASTS else f".to({dtype})"


def check_dtype(model: object, x: object, name: str = "x") -> None:
    """Refuse floating-point images whose dtype is not the model's parameter dtype.

    A float64 image through a float32 convolution fails deep inside the model ("Input type
    (double) and bias type (float) should be the same"); casting silently would change
    the precision the user asked for. The contract says the dtype comes from ``x``, so a
    float64 model with float64 images is fine. A model without floating-point parameters
    takes any floating dtype; a non-tensor or an integer ``x`` is left to ``check_images``,
    which also runs first on a mismatched ``x``, so that its errors (shape, NaN, range) read
    as they did before this check existed.
    """
    if not isinstance(model, nn.Module) or not isinstance(x, torch.Tensor):
        return
    if not x.is_floating_point():
        return
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if not dtypes or x.dtype in dtypes:
        return
    check_images(x, name)
    wanted = min(dtypes, key=str)  # one of them, the same every time
    raise UserError(
        f"{name} has dtype {x.dtype} but the model's parameters are {wanted}: convert the "
        f"images with {name}{_cast(wanted)} or the model with model{_cast(x.dtype)}")


def num_classes(model: nn.Module) -> int | None:
    """The number of classes a classifier declares, without running it.

    zoo models carry ``num_classes``; for others the last ``nn.Linear`` is a good guess.
    ``None`` when neither is there (labels are then checked against the logits).
    """
    declared = getattr(model, "num_classes", None)
    if isinstance(declared, int):
        return declared
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None


@contextmanager
def buffers_kept(model: object) -> Iterator[None]:
    """Copy every buffer of ``model`` back after the block, also when it raises.

    A method may be given a model in training mode, whose batch-norm layers then update
    their running statistics on every forward pass; the contract is that the model is left as
    found. The cost is one copy of the buffers per call (a ResNet-50 has 53k buffer values).
    """
    if not isinstance(model, nn.Module):
        yield
        return
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, copy in saved:
                buffer.copy_(copy)


#: the arguments of a method that are images the model reads (checked by ``keeps_buffers``)
IMAGE_ARGUMENTS = ("x", "content", "style")


def keeps_buffers(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn(model, ...)`` run inside ``buffers_kept(model)``; the model is its first
    positional argument (or ``model=``).

    Every registered method enters through here (``zoo.methods`` wraps it), so this is also
    where the images' dtype is checked against the model's (``check_dtype``), before any
    work: the arguments named in ``IMAGE_ARGUMENTS``, by position or keyword (not maps or
    baselines, which the methods convert to ``x``'s dtype themselves).
    """
    params = list(inspect.signature(fn).parameters.values())
    data = [(i, p.name) for i, p in enumerate(params) if p.name in IMAGE_ARGUMENTS]

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        model = args[0] if args else kwargs.get("model")
        for i, key in data:
            check_dtype(model, args[i] if i < len(args) else kwargs.get(key), key)
        with buffers_kept(model):
            return fn(*args, **kwargs)

    return call


@contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` on every parameter for the block; restore it in ``finally``.

    Used by optimisations over images so that parameter gradients are neither computed nor
    accumulated.
    """
    saved = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in saved:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


#: every hook dict a module of the pinned torch has (forward, pre-forward, with kwargs,
#: always called, backward, state-dict and load hooks), read off a fresh module so a torch
#: that adds one is covered too
HOOK_DICTS = tuple(sorted(k for k, v in vars(nn.Module()).items()
                          if "hook" in k and isinstance(v, dict)))


@dataclass(frozen=True)
class ModelState:
    """Everything about a model that a method promises to leave as it found it."""

    training: tuple[bool, ...]
    requires_grad: tuple[bool, ...]
    grads: tuple[torch.Tensor | None, ...]
    params: tuple[torch.Tensor, ...]
    hooks: tuple[tuple[tuple[int, ...], ...], ...]  # the handle ids in each hook dict
    devices: tuple[str, ...]
    dtypes: tuple[str, ...]

    @classmethod
    def capture(cls, model: nn.Module) -> ModelState:
        params = list(model.parameters())
        tensors = params + list(model.buffers())
        return cls(
            training=tuple(m.training for m in model.modules()),
            requires_grad=tuple(p.requires_grad for p in params),
            grads=tuple(None if p.grad is None else p.grad.detach().clone() for p in params),
            params=tuple(t.detach().clone() for t in tensors),
            hooks=tuple(
                tuple(tuple(getattr(m, d, {})) for d in HOOK_DICTS) for m in model.modules()
            ),
            devices=tuple(str(t.device) for t in tensors),
            dtypes=tuple(str(t.dtype) for t in tensors),
        )

    def differences(self, other: ModelState) -> list[str]:
        """Human-readable list of what changed between two snapshots (empty when nothing)."""
        diffs = []
        for field in ("training", "requires_grad", "hooks", "devices", "dtypes"):
            if getattr(self, field) != getattr(other, field):
                diffs.append(field)
        if len(self.grads) != len(other.grads) or any(
            (a is None) != (b is None) or (a is not None and not torch.equal(a, b))
            for a, b in zip(self.grads, other.grads, strict=False)
        ):
            diffs.append("grads")
        if len(self.params) != len(other.params) or any(
            not torch.equal(a, b) for a, b in zip(self.params, other.params, strict=False)
        ):
            diffs.append("parameters or buffers")
        return diffs
