"""Fitting a task's attack hyperparameters to each attack it names.

A task may list several attacks with one set of hyperparameters (``steps``, ``rel_alpha``,
``restarts``, ``loss``...). Each job keeps only what its attack takes, so FGSM's job config
(and id) does not change when the task's ``steps`` does, and an attack paired with a norm
it does not support is dropped from the product rather than run.
"""

from __future__ import annotations

import inspect
from typing import Any

from attacks import get_attack

# hyperparameters a task may give; each kept only for attacks whose function takes it
ATTACK_KEYS = ("steps", "alpha", "rel_alpha", "restarts", "loss", "random_start")
ATTACK_DEFAULTS: dict[str, Any] = {k: None for k in ATTACK_KEYS}


def fit_to_attack(config: dict[str, Any]) -> dict[str, Any] | None:
    """Drop the hyperparameters ``config["attack"]`` does not take; ``None`` for a norm it
    does not support. Raises ``ValueError`` when a required step size is missing or doubled.
    """
    info = get_attack(config["attack"])
    norm = config.get("norm", "linf")
    if norm not in info.norms:
        return None
    positional = list(inspect.signature(info.fn).parameters)
    if len(positional) > 2 and positional[2] == "target":
        raise ValueError(f"attack {info.name!r} is targeted-only; use it through the fooling job")
    takes = set(positional)
    out = dict(config)
    for key in ATTACK_KEYS:
        if key not in out:
            continue
        applies = info.needs_alpha if key in ("alpha", "rel_alpha") else key in takes
        if not applies:
            del out[key]
    if info.needs_alpha:
        if "alpha" in out and "rel_alpha" in out:
            raise ValueError(f"give alpha or rel_alpha for {info.name}, not both")
        if "alpha" not in out and "rel_alpha" not in out:
            raise ValueError(f"{info.name} needs a step size: give alpha or rel_alpha "
                             "(alpha = rel_alpha * eps)")
    if "steps" in takes and "steps" not in out:
        raise ValueError(f"{info.name} needs steps")
    out["norm"] = norm  # the threat model is part of every attack job, single-norm ones too
    return out


def attack_kwargs(params: dict[str, Any], eps: float) -> dict[str, Any]:
    """Keyword arguments for calling the attack function directly at one ``eps``."""
    kwargs = {k: params[k] for k in ("steps", "restarts", "loss", "random_start") if k in params}
    if "norm" in inspect.signature(get_attack(params["attack"]).fn).parameters:
        kwargs["norm"] = params["norm"]
    if "alpha" in params:
        kwargs["alpha"] = params["alpha"]
    elif "rel_alpha" in params:
        kwargs["alpha"] = params["rel_alpha"] * eps
    return kwargs
