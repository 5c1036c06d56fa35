"""A small registry of attribution methods, so tests and benchmarks cover every method
automatically (timm's pattern): ``register``, ``get_method``, ``list_methods``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class MethodInfo:
    """One registered attribution method.

    ``output``: ``"input"`` when the map is shaped like ``x``, ``"layer"`` when it is shaped
    like a layer's output (Grad-CAM); ``needs_layer``: takes a required ``layer`` name;
    ``random``: takes a ``generator``; ``needs_relu``: overrides ``nn.ReLU`` modules.
    """

    name: str
    fn: Callable[..., torch.Tensor]
    paper: str
    output: str = "input"
    needs_layer: bool = False
    random: bool = False
    needs_relu: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.fn(*args, **kwargs)


_METHODS: dict[str, MethodInfo] = {}


def register(
    name: str,
    *,
    paper: str,
    output: str = "input",
    needs_layer: bool = False,
    random: bool = False,
    needs_relu: bool = False,
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Decorator adding a method to the registry; duplicate names are an error."""
    if output not in ("input", "layer"):
        raise ValueError(f"output must be 'input' or 'layer', got {output!r}")

    def add(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        if name in _METHODS:
            raise ValueError(f"attribution method {name!r} is already registered")
        _METHODS[name] = MethodInfo(name, fn, paper, output, needs_layer, random, needs_relu)
        return fn

    return add


def get_method(name: str) -> MethodInfo:
    if name not in _METHODS:
        raise KeyError(f"unknown attribution method {name!r}; available: "
                       f"{', '.join(list_methods())}")
    return _METHODS[name]


def list_methods() -> list[str]:
    return sorted(_METHODS)
