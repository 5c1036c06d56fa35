"""A small registry of generative methods (timm's pattern), so the stress tests, the suites
and the perf suite cover every method automatically: ``register``, ``get_method``,
``list_methods``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generative.result import GenResult

#: what a method starts from: a class index, a unit of a layer, one image, or a content image
#: and a style image
INPUTS = ("class", "unit", "image", "pair")


@dataclass(frozen=True)
class GenInfo:
    """One registered generative method.

    ``inputs``: one of ``INPUTS``, which fixes the positional arguments after ``model``:
    ``class`` -> ``(target)``, ``unit`` -> ``(layer, channel)``, ``image`` -> ``(x, layer)``,
    ``pair`` -> ``(content, style)``. ``optimizers``: the ``optimizer=`` values it accepts.
    """

    name: str
    fn: Callable[..., GenResult]
    paper: str
    inputs: str
    optimizers: tuple[str, ...] = ("sgd",)

    def __call__(self, *args: Any, **kwargs: Any) -> GenResult:
        return self.fn(*args, **kwargs)


_METHODS: dict[str, GenInfo] = {}


def register(
    name: str, *, paper: str, inputs: str, optimizers: tuple[str, ...] = ("sgd",)
) -> Callable[[Callable[..., GenResult]], Callable[..., GenResult]]:
    """Decorator adding a method to the registry; duplicate names are an error."""
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")

    def add(fn: Callable[..., GenResult]) -> Callable[..., GenResult]:
        if name in _METHODS:
            raise ValueError(f"generative method {name!r} is already registered")
        _METHODS[name] = GenInfo(name, fn, paper, inputs, optimizers)
        return fn

    return add


def get_method(name: str) -> GenInfo:
    if name not in _METHODS:
        raise KeyError(f"unknown generative method {name!r}; available: "
                       f"{', '.join(list_methods())}")
    return _METHODS[name]


def list_methods() -> list[str]:
    return sorted(_METHODS)
