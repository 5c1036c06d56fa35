"""Plumbing the representation views share: reading one layer's output (or input) with a hook
that stops the forward pass there, sliding-window positions, and tiling maps into one image."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import nn

from zoo.hooks import HookSet


class _StopForward(Exception):
    """Raised by a capture hook once it has what it needs: the rest of the network (a
    flatten-linear head that expects another size, say) need not run."""


def capture(
    model: nn.Module, module: nn.Module, x: torch.Tensor, layer: str, *, inputs: bool = False
) -> torch.Tensor:
    """The output (or, with ``inputs``, the first positional input) of ``module`` on its first
    run during ``model(x)``, detached and copied; the forward pass stops right after it.

    The copy matters: a later ``nn.ReLU(inplace=True)`` would otherwise rewrite the tensor.
    """
    found: list[torch.Tensor] = []

    def keep(value: Any) -> None:
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"layer {layer!r} must {'take' if inputs else 'output'} one "
                             f"tensor, got {type(value).__name__}")
        found.append(value.detach().clone())
        raise _StopForward

    def on_input(mod: nn.Module, args: tuple[Any, ...]) -> None:
        keep(args[0] if args else None)

    def on_output(mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        keep(out)

    with HookSet() as hooks, torch.no_grad():
        if inputs:
            hooks.forward_pre(module, on_input)
        else:
            hooks.forward(module, on_output)
        with contextlib.suppress(_StopForward):
            model(x)
    if not found:
        raise ValueError(f"layer {layer!r} did not run during the forward pass")
    return found[0]


def window_grid(
    size: tuple[int, int], window: tuple[int, int], stride: tuple[int, int]
) -> tuple[int, int]:
    """How many whole windows fit along each side: ``(H - wh) // sh + 1`` rows, and columns
    alike. Only whole windows: every occluder is the same grey square."""
    return ((size[0] - window[0]) // stride[0] + 1, (size[1] - window[1]) // stride[1] + 1)


def window_masks(
    size: tuple[int, int], window: tuple[int, int], stride: tuple[int, int],
    device: torch.device | None = None,
) -> torch.Tensor:
    """One boolean mask per window position, row-major (top row first, left to right).

    Shape:
        - returns ``(P, 1, H, W)`` with ``P = rows * cols`` from ``window_grid``.
    """
    rows, cols = window_grid(size, window, stride)
    masks = torch.zeros(rows * cols, 1, *size, dtype=torch.bool, device=device)
    for r in range(rows):
        for c in range(cols):
            top, left = r * stride[0], c * stride[1]
            masks[r * cols + c, 0, top:top + window[0], left:left + window[1]] = True
    return masks


def tile(
    tiles: torch.Tensor, ncols: int | None, pad: int, pad_value: float = 0.0
) -> torch.Tensor:
    """Lay ``K`` equally sized images out on a grid, row-major, ``pad`` pixels between them
    and around the border.

    Shape:
        - tiles: ``(K, C, h, w)``; returns ``(C, rows * (h + pad) + pad, ncols * (w + pad) + pad)``.
    """
    k, c, h, w = tiles.shape
    if ncols is None:
        ncols = math.ceil(math.sqrt(k))
    elif isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer or None, got {ncols!r}")
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise ValueError(f"pad must be a non-negative integer, got {pad!r}")
    ncols = min(ncols, k)
    rows = math.ceil(k / ncols)
    grid = tiles.new_full((c, rows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value)
    for i in range(k):
        top = pad + (i // ncols) * (h + pad)
        left = pad + (i % ncols) * (w + pad)
        grid[:, top:top + h, left:left + w] = tiles[i]
    return grid
