"""The generative-method registry (timm's pattern), so the stress tests, the suites and the
perf suite cover every method automatically: ``register``, ``get_method``, ``list_methods``.

A method's keyword-only parameters are its hyperparameters, checked on every call; its
``generator`` is set by whoever runs it. What the signature cannot say is what it starts from
(``inputs``), which fixes its positional arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from zoo.methods import Method, register_method
from zoo.params import split_annotated
from zoo.registry import Registry

if TYPE_CHECKING:
    from generative.result import GenResult

#: what a method starts from: a class index, a unit of a layer, one image, or a content image
#: and a style image
INPUTS = ("class", "unit", "image", "pair")
PROTOCOL = ("generator",)


@dataclass(frozen=True)
class GenInfo(Method):
    """One registered generative method.

    ``inputs``: one of ``INPUTS``, which fixes the positional arguments after ``model``:
    ``class`` -> ``(target)``, ``unit`` -> ``(layer, channel)``, ``image`` -> ``(x, layer)``,
    ``pair`` -> ``(content, style)``.
    """

    inputs: str = "class"

    @property
    def optimizers(self) -> tuple[str, ...]:
        """The ``optimizer=`` values it accepts: its annotation's choices."""
        if not self.takes("optimizer"):
            return ()
        base, _ = split_annotated(self.params["optimizer"].annotation)
        return tuple(get_args(base)) if get_origin(base) is Literal else ()


METHODS: Registry[GenInfo] = Registry("generative method")


def register(
    name: str, *, paper: str, inputs: str, protocol: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None, suite_defaults: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., GenResult]], Callable[..., GenResult]]:
    """Decorator adding a method to the registry; every call of the returned function checks
    its keyword arguments first."""
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")

    def add(fn: Callable[..., GenResult]) -> Callable[..., GenResult]:
        entry = register_method(METHODS, GenInfo, name, fn, paper=paper,
                                family_protocol=PROTOCOL, protocol=protocol, aliases=aliases,
                                suite_defaults=suite_defaults, inputs=inputs)
        return entry.fn

    return add


def get_method(name: str) -> GenInfo:
    return METHODS.get(name)


def list_methods() -> list[str]:
    return METHODS.names()


def unregister(name: str) -> None:
    """Remove a method (one a test registered for itself, say)."""
    METHODS.remove(name)
