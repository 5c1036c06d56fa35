"""No method changes the model's buffers: a model left in training mode updates its batch-norm
running statistics on every forward pass, and every registered method (of every family) and
every evaluation function that runs a model puts them back, also when the call raises.
Methods are called with settings read off their signatures (the perf suite's rules)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import attacks
import attribution
import generative
import zoo
from attribution.metrics import deletion, fragility, model_randomisation
from attribution.views import (
    activations,
    max_patches,
    occlusion_probability_map,
    penultimate_features,
)
from bench.kinds.generative_calls import aim
from bench.perf.cases import EPS, budget
from tests.helpers import CountingModel
from zoo.layers import last_conv

SIDE = 12


def bn_model() -> zoo.Classifier:
    """A small CNN with batch norm, in training mode, its statistics away from their start."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    model = zoo.Classifier(net, mean=(0.5,), std=(0.5,), num_classes=10,
                           input_shape=(1, SIDE, SIDE), name="bn")
    with torch.no_grad():
        model.train()(torch.rand(8, 1, SIDE, SIDE))  # running stats no longer 0 and 1
    return model.train()


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(4, 1, SIDE, SIDE, generator=g), torch.tensor([0, 1, 2, 3])


def call(family: str, name: str, model: nn.Module) -> Callable[[], Any]:
    x, y = data()
    if family == "attack":
        info = attacks.get_attack(name)
        kwargs = zoo.params.resolve(info.params, budget(family, info, SIDE, True),
                                    {"eps": EPS["linf"]})
        target = (y + 1) % 10 if info.targeted_only else y
        if "surrogate" in info.params:  # transfer: made on the model itself, also guarded
            kwargs["surrogate"] = model
        return lambda: info(model, x, target, eps=EPS["linf"], **kwargs)
    if family == "attribution":
        info = attribution.get_method(name)
        kwargs = budget(family, info, SIDE, True)
        kwargs.update({p: last_conv(model) for p in info.layer_params})
        return lambda: info(model, x, y, **kwargs)
    info = generative.get_method(name)
    args, kwargs = aim(name, model, x[:2], **budget(family, info, SIDE, True))
    return lambda: info(model, *args, **kwargs)


CASES = ([("attack", n) for n in attacks.list_attacks()]
         + [("attribution", n) for n in attribution.list_methods()]
         + [("generative", n) for n in generative.list_methods()])


def unchanged(model: nn.Module, run: Callable[[], Any]) -> list[str]:
    before = zoo.ModelState.capture(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run()
    return zoo.ModelState.capture(model).differences(before)


@pytest.mark.parametrize(("family", "name"), CASES, ids=[f"{f}-{n}" for f, n in CASES])
def test_every_method_leaves_buffers_as_found(family: str, name: str) -> None:
    model = bn_model()
    with pytest.warns(RuntimeWarning, match="training mode"):  # warned, not switched
        call(family, name, model)()
    assert model.training
    model = bn_model()
    assert unchanged(model, call(family, name, model)) == []
    # the statistics would have moved without the guarantee: a training-mode forward does it
    before = [b.clone() for b in model.buffers()]
    with torch.no_grad():
        model(data()[0])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.buffers(), strict=True))


class RaisesAfterForward(CountingModel):
    """Runs the model (its batch norm updates its statistics), then raises: the worst
    moment for a method to be interrupted."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        raise RuntimeError("forward failed on purpose, after the batch-norm update")
        return out


@pytest.mark.parametrize(("family", "name"), CASES, ids=[f"{f}-{n}" for f, n in CASES])
def test_buffers_are_restored_when_the_call_raises(family: str, name: str) -> None:
    model = RaisesAfterForward(bn_model())
    run = call(family, name, model)
    before = zoo.ModelState.capture(model)
    with pytest.raises(RuntimeError, match="on purpose"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run()
    assert zoo.ModelState.capture(model).differences(before) == []


def saliency(model: nn.Module, x: torch.Tensor, target: Any) -> torch.Tensor:
    return attribution.saliency(model, x, target)


EVALUATIONS: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], Any]] = {
    "robust_accuracy": lambda m, x, y: attacks.robust_accuracy(
        m, x, y, attack="pgd", eps=[0.0, 0.1], steps=2, rel_alpha=0.5),
    # the model's own predictions as labels: every class it predicts has a right image
    "fooling_grid": lambda m, x, y: attacks.fooling_grid(
        m, x, y, classes=sorted(set(y.tolist()))[:2], eps=0.1, alpha=0.05, steps=2),
    "carlini_checks": lambda m, x, y: attacks.carlini_checks(
        m, x, y, eps=0.1, eps_grid=[0.0, 0.1], steps=2),
    "deletion": lambda m, x, y: deletion(m, x, y, saliency(m, x, y), steps=3),
    "model_randomisation": lambda m, x, y: model_randomisation(m, x, y, saliency),
    "fragility": lambda m, x, y: fragility(m, x, y, saliency, eps=0.02),
    "activations": lambda m, x, y: activations(m, x, "net.2"),
    "occlusion_probability_map": lambda m, x, y: occlusion_probability_map(
        m, x, y, window=4, stride=4),
    "penultimate_features": lambda m, x, y: penultimate_features(m, x),
    "max_patches": lambda m, x, y: max_patches(m, x, "net.2", [0], k=2),
    "inversion_by_depth": lambda m, x, y: generative.inversion_by_depth(
        m, x[:1], ["net.2", "net.5"], steps=2),
}


@pytest.mark.parametrize("name", list(EVALUATIONS))
def test_evaluations_leave_buffers_as_found(name: str) -> None:
    model = bn_model()
    x, _ = data()
    with torch.no_grad():
        y = model(x).argmax(dim=1)  # batch statistics: the same answer inside the call
    assert unchanged(model, lambda: EVALUATIONS[name](model, x, y)) == []


# (the views stop their forward pass at their layer: tests/attribution/views covers them)
@pytest.mark.parametrize("name", ["robust_accuracy", "fooling_grid", "carlini_checks",
                                  "deletion", "inversion_by_depth"])
def test_evaluations_restore_buffers_when_the_forward_pass_raises(name: str) -> None:
    model = RaisesAfterForward(bn_model())
    x, _ = data()
    with torch.no_grad():
        y = model.model(x).argmax(dim=1)
    before = zoo.ModelState.capture(model)
    run = EVALUATIONS[name] if name != "inversion_by_depth" else (
        lambda m, x, y: generative.inversion_by_depth(m, x[:1], ["model.net.2"], steps=2))
    with pytest.raises(RuntimeError, match="on purpose"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(model, x, y)
    assert zoo.ModelState.capture(model).differences(before) == []
