"""Every registered attack, per norm it supports: ours, torchattacks where it has the same
attack (run to do the same work: the same random start or none, step size and budget), and
the bare floor. Labels are the model's predictions, so every point is attacked by both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torchattacks
from torch import nn

import attacks
from bench.perf.cases import TORCHATTACKS, Case, params_for
from zoo import num_classes
from zoo.params import resolve


def effective(case: Case, params: dict[str, Any]) -> dict[str, Any]:
    """The settings ours runs with, signature defaults included, ``rel_alpha`` resolved."""
    info = attacks.get_attack(case.method)
    defaults = {k: p.default for k, p in info.settings.items() if not p.required}
    return {**defaults, **resolve(info.params, params, {"eps": params["eps"]})}


def ours_fn(case: Case, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
            params: dict[str, Any], make_generator: Callable[..., torch.Generator]
            ) -> Callable[[], Any]:
    info = attacks.get_attack(case.method)
    kwargs = resolve(info.params, params, {"eps": params["eps"]})
    if info.random:
        kwargs["generator"] = make_generator(case.device)
    # fool: the next class as its target
    labels = (y + 1) % (num_classes(model) or 10) if info.targeted_only else y
    if info.takes("surrogate"):  # transfer: made on the model itself, so the floor sees it
        kwargs["surrogate"] = model
    return lambda: info(model, x, labels, **kwargs)


def reference_fn(case: Case, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 params: dict[str, Any]) -> Callable[[], Any]:
    ours, name = effective(case, params), TORCHATTACKS[(case.method, case.norm)]
    # torchattacks' own names for the same settings
    kwargs: dict[str, Any] = {k: v for k, v in ours.items() if k in ("eps", "alpha", "steps")}
    if name in ("PGD", "PGDL2"):
        kwargs["random_start"] = ours["random_start"]
    norm = {"linf": "Linf", "l2": "L2"}[case.norm]
    if name == "APGD":
        kwargs.update(norm=norm, n_restarts=ours["restarts"], loss=ours["loss"], seed=0)
    if name == "Square":  # ours: the margin loss untargeted, as torchattacks'
        kwargs = {"eps": ours["eps"], "norm": norm, "n_queries": ours["queries"],
                  "n_restarts": ours["restarts"], "p_init": ours["p_init"], "loss": "margin",
                  "seed": 0}
    if name == "FAB":
        kwargs.update(norm=norm, n_restarts=ours["restarts"], alpha_max=ours["alpha_max"],
                      eta=ours["eta"], beta=ours["beta"], seed=0,
                      n_classes=num_classes(model) or 10)
    if name == "DeepFool":
        kwargs = {"steps": ours["steps"], "overshoot": ours["overshoot"]}
    if name == "CW":  # no binary search there: one constant for all of ours' Adam steps
        kwargs = {"c": ours["c"], "kappa": ours["confidence"], "lr": ours["lr"],
                  "steps": ours["steps"] * ours["binary_steps"]}
    attack = getattr(torchattacks, name)(model, **kwargs)
    devices = [x.device] if x.device.type == "cuda" else []

    def run() -> torch.Tensor:
        with torch.random.fork_rng(devices=devices):  # torchattacks' APGD reseeds globally
            return attack(x, y)

    return run


def test_attack(benchmark: Any, perf: Any, attack_case: Case,
                make_generator: Callable[..., torch.Generator]) -> None:
    case = attack_case
    model = perf.model(case.model, case.device)
    x, _ = perf.data(case.model, case.size, case.batch, case.device)
    with torch.no_grad():
        # the model's own predictions as labels: torchattacks' APGD skips points the model
        # already gets wrong (all of them for random weights), which would not be the same work
        y = model(x).argmax(dim=1)
    params = params_for(case, perf.quick)
    ours = ours_fn(case, model, x, y, params, make_generator)
    fn = ours if case.role == "ours" else None  # None: the floor
    if case.role == "reference":
        fn = reference_fn(case, perf.model_copy(case.model, case.device), x, y, params)
    perf.measure(benchmark, case, model, fn, ours, params)
