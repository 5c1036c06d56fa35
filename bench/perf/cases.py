"""What the perf suite times: every registered method, with settings read off its signature
(``budget``), and the cases (method x model x size x batch x device x role) they expand
into. A method registered anywhere is timed without an entry here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import attacks
import attribution
import generative
from attribution import reference as captum_reference
from zoo.methods import Method
from zoo.params import SIDE, LayerName, Pixels, Work
from zoo.registry import Registry

FAMILIES = ("attack", "attribution", "generative")
REGISTRIES: dict[str, Registry[Any]] = {
    "attack": attacks.registry.ATTACKS, "attribution": attribution.registry.METHODS,
    "generative": generative.registry.METHODS,
}
#: iterations or samples per call (parameters marked ``Work``), per family: a fixed small
#: budget, so a method's time is comparable with its reference's and the floor's
WORK = {"attack": 10, "attribution": 16, "generative": 5}
QUICK_WORK = 2  # quick mode: every such budget cut to this
REL_STEP = 0.25  # a required step size, as a fraction of eps
EPS = {"linf": 0.1, "l2": 1.0}  # pixel units
NATIVE_SIDE = 28  # windows in pixels (``Pixels``) are as the suite gives them at 28 px
REL_SIDE = 0.25  # a required size relative to the image's side that has no suite default
QUICK_SIDE = 0.5  # quick mode: such a size is half the side

# the torchattacks counterpart of an attack, per norm (``fool`` is targeted-only: none;
# torchattacks has no L∞ DeepFool, no transfer attack)
TORCHATTACKS = {("fgsm", "linf"): "FGSM", ("bim", "linf"): "BIM", ("pgd", "linf"): "PGD",
                ("pgd", "l2"): "PGDL2", ("apgd", "linf"): "APGD", ("apgd", "l2"): "APGD",
                ("square", "linf"): "Square", ("square", "l2"): "Square",
                ("fab", "linf"): "FAB", ("fab", "l2"): "FAB", ("deepfool", "l2"): "DeepFool",
                ("cw", "l2"): "CW"}

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
    return REGISTRIES[family].names()


def method(family: str, name: str) -> Method:
    return REGISTRIES[family].get(name)


def budget(family: str, info: Method, size: int, quick: bool) -> dict[str, Any]:
    """Settings for one timed call, by parameter name: the method's suite defaults, every
    ``Work`` count at the family's budget, a size given relative to the image's side
    (occlusion's ``rel_window``) resolved at ``size`` as a suite job resolves it (a required
    one without a default at ``REL_SIDE``; in quick mode, half the side), windows in pixels
    (``Pixels``) scaled with the image side, and a required step size as ``REL_STEP`` of eps
    (under its relative name). A required layer is left to the test, which picks one per
    model; any other required setting without a rule fails collection, naming it."""
    out = dict(info.suite_defaults)
    for name, param in info.settings.items():
        relative = param.relative
        if param.has(Work):
            out[name] = QUICK_WORK if quick else WORK[family]
        elif (relative is not None and relative.to == SIDE and name not in out
              and (relative.name in out or param.required)):
            share = out.pop(relative.name, REL_SIDE)
            out[name] = relative.resolve(QUICK_SIDE if quick else share, size)
        elif param.has(Pixels) and name in out:
            scale = max(1, round(size / NATIVE_SIDE))
            out[name] = max(1, size // 2) if quick else out[name] * scale
        elif param.required and name not in out and not param.has(LayerName):
            if relative is None:
                raise KeyError(f"perf suite: {info.name}'s required setting {name!r} has no "
                               "budget rule in bench/perf/cases.py")
            out[relative.name] = REL_STEP
    return out


def params_for(case: Case, quick: bool) -> dict[str, Any]:
    """The settings of a case (before per-model choices such as layers)."""
    p = budget(case.family, method(case.family, case.method), case.size, quick)
    if case.family == "attack":
        p["eps"] = EPS[case.norm]
        if method(case.family, case.method).takes("norm"):
            p["norm"] = case.norm
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
    for name in registered(family):
        budget(family, method(family, name), NATIVE_SIDE, quick)  # a missing rule fails collection
        norms = attacks.get_attack(name).norms if family == "attack" else ("",)
        for norm in norms:
            roles = ["ours", "floor"]
            if has_reference(family, name, norm):
                roles.insert(1, "reference")
            out += [Case(family, name, model, size, batch, device, role, norm)
                    for model, size, batch in setups(family, quick, own)
                    for device in devices for role in roles]
    return out
