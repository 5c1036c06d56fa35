"""The attack registry, so tests, suites and benchmarks cover every attack automatically.

An attack is a function ``attack(model, x, y, *, eps, ...) -> x_adv``; a targeted-only attack
names its third argument ``target``. Its keyword-only parameters are its hyperparameters; those
in ``PROTOCOL`` are set by whoever runs it (``robust_accuracy``, the fooling grid), never by a
suite. What else it supports is read off its signature: the norms are the choices of its
``norm`` parameter (an attack without one is L∞), ``alpha`` is a step size, ``steps`` makes it
iterative, ``generator`` gives it a random start, an ``eps`` that defaults to ``None`` makes
it a minimal-perturbation attack (``AttackInfo.minimal``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

import torch

from zoo.methods import Method, register_method
from zoo.params import split_annotated
from zoo.registry import Registry

#: keywords an attack's caller sets: the budget, the threat model's norm, the goal, the
#: random generator, early stop (robust-accuracy evaluation) and a warm start
PROTOCOL = ("eps", "norm", "targeted", "generator", "early_stop", "x_init")


#: what of the model an attack uses, declared at registration (a signature cannot say it):
#: its input gradients (white-box), only its outputs (score-based, black-box), gradients of a
#: surrogate model (transfer), or several of these (an ensemble)
Access = Literal["gradients", "scores", "surrogate", "ensemble"]


@dataclass(frozen=True)
class AttackInfo(Method):
    """One registered attack; ``access``: see ``Access``."""

    access: Access = "gradients"

    @property
    def white_box(self) -> bool:
        """It needs the model's own input gradients, so masked gradients can fool it."""
        return self.access == "gradients"

    @property
    def norms(self) -> tuple[str, ...]:
        """The threat models it supports: its ``norm`` parameter's choices, else L∞ alone."""
        if not self.takes("norm"):
            return ("linf",)
        base, _ = split_annotated(self.params["norm"].annotation)
        return tuple(get_args(base)) if get_origin(base) is Literal else ("linf",)

    def fits(self, config: Mapping[str, Any]) -> bool:
        """A job whose threat model (``norm``) the attack supports."""
        return config.get("norm", "linf") in self.norms

    @property
    def targeted_only(self) -> bool:
        """Its third argument is the target class, not the true label."""
        positional = list(inspect.signature(self.fn).parameters)
        return len(positional) > 2 and positional[2] == "target"

    @property
    def minimal(self) -> bool:
        """A minimal-perturbation attack: its ``eps`` may be ``None`` (its default), and then
        it returns per example the smallest adversarial point it found
        (``attacks.minimal.minimal_perturbation`` reads the norms off it); with a budget it
        returns that point where it lies within ``eps``, else ``x``."""
        return self.takes("eps") and self.params["eps"].default is None

    @property
    def iterative(self) -> bool:
        return self.takes("steps")

    @property
    def random(self) -> bool:
        return self.takes("generator")


ATTACKS: Registry[AttackInfo] = Registry("attack")


def register(
    name: str, *, paper: str, protocol: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None, suite_defaults: Mapping[str, Any] | None = None,
    access: Access = "gradients",
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Decorator adding an attack to the registry (``zoo.methods`` explains the options;
    ``access``: what of the model it uses, ``Access``); every call of the returned function
    checks its keyword arguments first."""
    if access not in get_args(Access):
        raise ValueError(f"attack {name!r}: access must be one of {get_args(Access)}, "
                         f"got {access!r}")

    def add(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        entry = register_method(ATTACKS, AttackInfo, name, fn, paper=paper,
                                family_protocol=PROTOCOL, protocol=protocol, aliases=aliases,
                                suite_defaults=suite_defaults, access=access)
        return entry.fn

    return add


def get_attack(name: str) -> AttackInfo:
    return ATTACKS.get(name)


def list_attacks() -> list[str]:
    return ATTACKS.names()


def unregister(name: str) -> None:
    """Remove an attack (one a test registered for itself, say)."""
    ATTACKS.remove(name)
