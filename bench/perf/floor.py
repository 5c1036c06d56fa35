"""The bare floor: the forward and forward+input-gradient passes a method makes, replayed on
the bare model as the simplest loop, so ``ours / floor`` is the method's own overhead.

``record_calls`` runs a method once with a forward pre-hook on the model's root module and
notes every call's input shape and whether it builds a graph; ``replay`` repeats exactly that
sequence on pre-built inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from zoo.hooks import HookSet


@dataclass(frozen=True)
class Call:
    """One forward call of the model: its input's shape, and whether it was a gradient pass
    (grad mode on and the input part of a graph; a forward under grad mode on a plain tensor
    with frozen parameters builds no graph and is replayed as a forward only)."""

    shape: tuple[int, ...]
    grad: bool


def record_calls(model: nn.Module, fn: Callable[[], Any]) -> list[Call]:
    """Run ``fn()`` once and return the forward calls it made of ``model``, in order."""
    calls: list[Call] = []

    def note(module: nn.Module, args: tuple[Any, ...]) -> None:
        x = args[0]
        grad = torch.is_grad_enabled() and bool(getattr(x, "requires_grad", False))
        calls.append(Call(tuple(x.shape), grad))

    with HookSet() as hooks:
        hooks.forward_pre(model, note)
        fn()
    return calls


def counts(calls: list[Call]) -> tuple[int, int]:
    """``(passes, grad_passes)``: all forward calls, and those with an input gradient."""
    return len(calls), sum(c.grad for c in calls)


def make_inputs(calls: list[Call], device: torch.device | str,
                dtype: torch.dtype = torch.float32, seed: int = 0) -> dict[tuple[int, ...], Any]:
    """One random image batch in ``[0, 1]`` per distinct input shape, built before timing."""
    gen = torch.Generator().manual_seed(seed)
    return {shape: torch.rand(shape, generator=gen, dtype=dtype).to(device)
            for shape in dict.fromkeys(c.shape for c in calls)}


def replay(model: nn.Module, calls: list[Call], inputs: dict[tuple[int, ...], Any]) -> None:
    """The same passes on the bare model: ``model(x)`` then ``autograd.grad`` of the output's
    sum for a gradient pass, ``model(x)`` under ``no_grad`` otherwise."""
    for call in calls:
        x = inputs[call.shape]
        if call.grad:
            x = x.detach().requires_grad_()
            torch.autograd.grad(model(x).sum(), x)
        else:
            with torch.no_grad():
                model(x)
