"""A small registry of attacks, so tests and benchmarks cover every attack automatically."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class AttackInfo:
    """One registered attack.

    ``norms``: threat models it supports; ``iterative``: takes ``steps``; ``needs_alpha``:
    takes a step size ``alpha``; ``random``: takes a ``generator`` for a random start;
    ``targeted_only``: its third argument is the target class, not the true label.
    """

    name: str
    fn: Callable[..., torch.Tensor]
    norms: tuple[str, ...]
    iterative: bool
    needs_alpha: bool
    random: bool
    paper: str
    targeted_only: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.fn(*args, **kwargs)


_ATTACKS: dict[str, AttackInfo] = {}


def register(
    name: str,
    *,
    norms: tuple[str, ...] = ("linf",),
    iterative: bool = True,
    needs_alpha: bool = False,
    random: bool = False,
    paper: str = "",
    targeted_only: bool = False,
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Decorator adding an attack function to the registry; duplicate names are an error."""

    def add(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        if name in _ATTACKS:
            raise ValueError(f"attack {name!r} is already registered")
        _ATTACKS[name] = AttackInfo(
            name, fn, norms, iterative, needs_alpha, random, paper, targeted_only
        )
        return fn

    return add


def get_attack(name: str) -> AttackInfo:
    if name not in _ATTACKS:
        raise KeyError(f"unknown attack {name!r}; available: {', '.join(list_attacks())}")
    return _ATTACKS[name]


def list_attacks() -> list[str]:
    return sorted(_ATTACKS)
