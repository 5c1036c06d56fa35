"""The attribution-method registry (timm's pattern), so tests, suites and benchmarks cover every
method automatically: ``register``, ``get_method``, ``list_methods``.

A method is ``method(model, x, target, *, ...) -> map``. Its keyword-only parameters are its
hyperparameters; a ``generator`` is set by whoever runs it. What the signature cannot say is
declared here: the map's shape (``output``), whether it overrides ``nn.ReLU`` modules, why it
does not apply to a model (``refusal``), and the options of ``zoo.methods`` (aliases, suite
defaults, more protocol keywords).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from attribution.relu_rules import relu_refusal
from zoo.methods import Method, register_method
from zoo.params import LayerName, split_annotated
from zoo.registry import Registry

PROTOCOL = ("generator",)


@dataclass(frozen=True)
class MethodInfo(Method):
    """One registered attribution method.

    ``output``: ``"input"`` when the map is shaped like ``x``, ``"layer"`` when it is shaped
    like a layer's output (Grad-CAM); ``needs_relu``: it overrides ``nn.ReLU`` modules;
    ``refusal``: ``refusal(model)`` is why the method does not apply to ``model``, or ``None``
    (a ReLU rule's is ``attribution.relu_rules.relu_refusal``).
    """

    output: Literal["input", "layer"] = "input"
    needs_relu: bool = False
    refusal: Callable[[nn.Module], str | None] | None = None

    def why_not(self, model: nn.Module) -> str | None:
        """Why the method does not apply to ``model`` (it leaves the model alone, runs no
        forward pass), or ``None`` when it does."""
        return self.refusal(model) if self.refusal is not None else None

    @property
    def layer_params(self) -> list[str]:
        """Its required parameters that name a layer of the model (``zoo.params`` ``Layer``)."""
        return [name for name, p in self.params.items()
                if p.required and any(isinstance(m, LayerName)
                                      for m in split_annotated(p.annotation)[1])]

    @property
    def needs_layer(self) -> bool:
        return bool(self.layer_params)

    @property
    def random(self) -> bool:
        return self.takes("generator")


METHODS: Registry[MethodInfo] = Registry("attribution method")


def register(
    name: str, *, paper: str, output: Literal["input", "layer"] = "input",
    needs_relu: bool = False, refusal: Callable[[nn.Module], str | None] | None = None,
    protocol: Iterable[str] = (), aliases: Mapping[str, str] | None = None,
    suite_defaults: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Decorator adding a method to the registry; every call of the returned function checks
    its keyword arguments first. A method that ``needs_relu`` refuses what
    ``relu_refusal`` refuses unless it declares its own ``refusal``."""
    if output not in ("input", "layer"):
        raise ValueError(f"output must be 'input' or 'layer', got {output!r}")
    if refusal is None and needs_relu:
        refusal = relu_refusal

    def add(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        entry = register_method(METHODS, MethodInfo, name, fn, paper=paper,
                                family_protocol=PROTOCOL, protocol=protocol, aliases=aliases,
                                suite_defaults=suite_defaults, output=output,
                                needs_relu=needs_relu, refusal=refusal)
        return entry.fn

    return add


def get_method(name: str) -> MethodInfo:
    return METHODS.get(name)


def list_methods() -> list[str]:
    return METHODS.names()


def unregister(name: str) -> None:
    """Remove a method (one a test registered for itself, say)."""
    METHODS.remove(name)
