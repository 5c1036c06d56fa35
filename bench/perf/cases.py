"""What the perf suite times: every registered method's perf hyperparameters (one table), and
the cases (method x model x size x batch x device x role) they expand into.

A method missing from ``PARAMS`` fails collection with a message naming this file, and the
smoke test (tests/bench/test_perf_smoke.py) checks the table covers every registry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import attacks
import attribution
import generative
from attribution import reference as captum_reference

FAMILIES = ("attack", "attribution", "generative")

# fixed small budgets, keyed by registered name; generators are added by the test modules
PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "attack": {
        "fgsm": {},
        "bim": {"steps": 10, "rel_alpha": 0.25},
        "pgd": {"steps": 10, "rel_alpha": 0.25, "random_start": False},  # as torchattacks'
        "apgd": {"steps": 10, "loss": "ce", "restarts": 1},
        "fool": {"steps": 10, "rel_alpha": 0.25},
    },
    "attribution": {
        "saliency": {},
        "guided_backprop": {},
        "deconvnet": {},
        "smoothgrad": {"samples": 8, "sigma": 0.15},
        "integrated_gradients": {"steps": 16},
        "occlusion": {"window": 4, "stride": 2},  # at 28 px; scaled with the image side
        "grad_cam": {},  # layer: the last conv's activation, chosen per model
    },
    "generative": {
        "class_model": {"steps": 5},
        "neuron_visualisation": {"steps": 5},
        "deep_dream": {"steps": 5},
        "feature_inversion": {"steps": 5},
        "style_transfer": {"steps": 5},
    },
}
EPS = {"linf": 0.1, "l2": 1.0}  # pixel units
QUICK_CAPS = {"steps": 2, "samples": 2}  # quick mode: every budget cut to this
QUICK_OCCLUSION = {"window": 14, "stride": 14}  # quick mode: 4 windows at 28 px

# the torchattacks counterpart of an attack, per norm (``fool`` is targeted-only: none)
TORCHATTACKS = {("fgsm", "linf"): "FGSM", ("bim", "linf"): "BIM", ("pgd", "linf"): "PGD",
                ("pgd", "l2"): "PGDL2", ("apgd", "linf"): "APGD", ("apgd", "l2"): "APGD"}

SHIPPED = (("mnist_logreg", 28), ("mnist_cnn", 28), ("shapes_cnn", 32))
TORCHVISION = ("tv:resnet18", "tv:vgg11")
TV_SIZES = (64, 128)


@dataclass(frozen=True)
class Case:
    """One benchmark: a method (and norm, for attacks) on a model, at a size, batch, device,
    in one role."""

    family: str
    method: str
    model: str
    size: int
    batch: int
    device: str
    role: str
    norm: str = ""

    @property
    def variant(self) -> str:
        """The method's part of the group name: ``pgd-l2`` for attacks, else the method."""
        return f"{self.method}-{self.norm}" if self.norm else self.method

    def group(self, label: str) -> str:
        return (f"{self.family}/{self.variant}/{label}/{self.size}px/b{self.batch}/"
                f"{self.device}")

    @property
    def id(self) -> str:
        return f"{self.variant}-{self.model}-{self.size}px-b{self.batch}-{self.device}-{self.role}"


def registered(family: str) -> list[str]:
    lister = {"attack": attacks.list_attacks, "attribution": attribution.list_methods,
              "generative": generative.list_methods}[family]
    return lister()


def table_entry(family: str, method: str) -> dict[str, Any]:
    if method not in PARAMS[family]:
        raise KeyError(f"perf suite: {family} method {method!r} is registered but has no entry "
                       f"in PARAMS[{family!r}] of bench/perf/cases.py; add its perf budget there")
    return dict(PARAMS[family][method])


def params_for(case: Case, quick: bool) -> dict[str, Any]:
    """The hyperparameters of a case (before per-model choices such as layers)."""
    p = table_entry(case.family, case.method)
    if case.family == "attribution" and case.method == "occlusion":
        scale = max(1, round(case.size / 28))
        p = dict(QUICK_OCCLUSION) if quick else {k: v * scale for k, v in p.items()}
    if quick:
        p.update({k: v for k, v in QUICK_CAPS.items() if k in p})
    if case.family == "attack":
        p.update(eps=EPS[case.norm], norm=case.norm)
    return p


def params_json(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def has_reference(family: str, method: str, norm: str = "") -> bool:
    if family == "attack":
        return (method, norm) in TORCHATTACKS
    return family == "attribution" and hasattr(captum_reference, method)


def setups(family: str, quick: bool,
           own: list[tuple[str, int]] | None = None) -> list[tuple[str, int, int]]:
    """``(model, size, batch)`` for a family; ``own``: a suite's models and their input sides,
    timed instead of the shipped ones."""
    if quick:
        models = own or [("mnist_cnn", 28)]
        return [(m, s, 1 if family == "generative" else 2) for m, s in models]
    batches = (1,) if family == "generative" else (1, 16)
    models = own or [*SHIPPED, *((tv, s) for tv in TORCHVISION for s in TV_SIZES)]
    return [(m, s, b) for m, s in models for b in batches]


def cases(family: str, quick: bool, devices: list[str],
          own: list[tuple[str, int]] | None = None) -> list[Case]:
    out = []
    for method in registered(family):
        table_entry(family, method)  # fail at collection when the table lacks it
        norms = attacks.get_attack(method).norms if family == "attack" else ("",)
        for norm in norms:
            roles = ["ours", "floor"]
            if has_reference(family, method, norm):
                roles.insert(1, "reference")
            out += [Case(family, method, model, size, batch, device, role, norm)
                    for model, size, batch in setups(family, quick, own)
                    for device in devices for role in roles]
    return out
