"""Pieces the metrics share: checks of attribution maps and masks, the channel reduction
every metric uses, and turning a method name or callable into a function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from attribution.registry import get_method

AttributionFn = Callable[..., torch.Tensor]


def check_maps(
    maps: object, n: int | None = None, size: tuple[int, int] | None = None,
    name: str = "attribution",
) -> torch.Tensor:
    """A finite float map ``(N, C, H, W)`` (``C`` may be 1), matching ``n`` images of
    ``size = (H, W)`` when those are given."""
    if not isinstance(maps, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(maps).__name__}")
    if not maps.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {maps.dtype}")
    if maps.dim() != 4 or maps.numel() == 0:
        raise ValueError(f"{name} must have shape (N, C, H, W), got {tuple(maps.shape)}")
    if n is not None and maps.shape[0] != n:
        raise ValueError(f"{name} holds {maps.shape[0]} maps for {n} images")
    if size is not None and tuple(maps.shape[2:]) != tuple(size):
        raise ValueError(f"{name} maps are {tuple(maps.shape[2:])}, the images are "
                         f"{tuple(size)} (upsample layer maps with attribution.upsample)")
    if not bool(torch.isfinite(maps).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return maps.detach()


def check_mask(mask: object, maps: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """A bool object mask ``(N, 1, H, W)`` for the maps ``(N, C, H, W)``."""
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise ValueError(f"{name} must be a bool tensor, got dtype {mask.dtype}")
    expected = (maps.shape[0], 1, *maps.shape[2:])
    if tuple(mask.shape) != expected:
        raise ValueError(f"{name} must have shape {expected}, got {tuple(mask.shape)}")
    if not bool(mask.flatten(1).any(1).all()):
        empty = int((~mask.flatten(1).any(1)).nonzero()[0])
        raise ValueError(f"{name} of image {empty} is empty: nothing to localise")
    return mask.to(maps.device)


def pixel_scores(maps: torch.Tensor, absolute: bool) -> torch.Tensor:
    """One score per pixel: the channel sum of the map (of its absolute value when
    ``absolute``), so that a colour map and a one-channel map are ranked alike.

    Shape:
        - maps: ``(N, C, H, W)``; returns ``(N, H, W)``.
    """
    return (maps.abs() if absolute else maps).sum(dim=1)


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def resolve_method(method: object, name: str = "method") -> AttributionFn:
    """A registered method's name or any callable ``fn(model, x, target, **kwargs)``."""
    if isinstance(method, str):
        info = get_method(method)  # KeyError naming the method when unknown
        if info.output != "input":
            raise ValueError(f"{name} {method!r} returns layer-shaped maps; pass a callable "
                             "that upsamples them (attribution.upsample)")
        return info.fn
    if not callable(method):
        raise ValueError(f"{name} must be a method name or a callable, got {method!r}")
    return method  # type: ignore[return-value]


def check_kwargs(kwargs: object, name: str = "method_kwargs") -> dict[str, Any]:
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping):
        raise ValueError(f"{name} must be a mapping of keyword arguments, got {kwargs!r}")
    return dict(kwargs)
