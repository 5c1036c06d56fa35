"""Carlini et al. 2019's sanity checks: they pass on every shipped model at the shipped
suites' settings, catch a model that masks its gradients (zero gradients, a saturated
softmax), and give a model without any input gradient a verdict instead of an error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from attacks import SanityCheck, carlini_checks
from attacks.common import NO_GRADIENT
from attacks.sanity import ATTACK_CHECKS, NOT_RUN

NAMES = ["gradients_exist", "pgd_at_least_fgsm", "monotone_in_eps", "more_steps_no_better",
         "unbounded_eps_zero_accuracy", "targeted_reaches_target"]
N = 100
#: the sanity task of bench/suites/default.toml (n 128) and of quick.toml (n 32)
DEFAULT = dict(eps=0.3, eps_grid=[0.0, 0.1, 0.2, 0.3], steps=20)
QUICK = dict(eps=0.3, eps_grid=[0.0, 0.15, 0.3], steps=10)
DATA = {"mnist_cnn": "mnist5k", "mnist_cnn_at": "mnist5k", "shapes_cnn": "shapes"}


class Wrapped(nn.Module):
    """A shipped model behind an input or output transform: the same predictions."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.num_classes = 10
        self.training = False


class QuantisedInput(Wrapped):
    """Rounds the pixels to 8 bits before the network: the same predictions as the network,
    but ``round`` has a zero derivative, so every input gradient is exactly 0 and
    gradient attacks never move. A textbook case of gradient masking (Athalye et al. 2018's
    "shattered gradients"): robust-looking numbers from a model that is not robust."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * 255) / 255)


class SaturatedSoftmax(Wrapped):
    """Returns ``softmax(100 * logits)`` as its logits: the same argmax, but the softmax is
    saturated at 0 and 1 in float32, so the gradients vanish (Carlini and Wagner's
    defensive-distillation failure)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(100 * self.model(x), dim=1)


class Detached(Wrapped):
    """Detaches its input: the output has no autograd path to it at all."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.detach())


class Thermometer(Wrapped):
    """Thresholds its input (a one-level thermometer encoding): a comparison has no
    gradient, so neither has the output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x > 0.5).to(x.dtype))


def run(model: nn.Module, mnist, n: int = N, **settings: object) -> dict[str, SanityCheck]:
    x, y = mnist[0][:n], mnist[1][:n]
    kw = settings or dict(eps=0.1, eps_grid=[0.05, 0.1, 0.2], steps=10)
    checks = carlini_checks(model, x, y, **kw, generator=torch.Generator().manual_seed(0))
    assert [c.name for c in checks] == NAMES
    return {c.name: c for c in checks}


def suite_sample(name: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The images a suite's sanity job with seed 0 draws (``RunContext.sample``)."""
    x, y = zoo.load_dataset(DATA[name], "test")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]
    return x[order], y[order]


def test_checks_pass_on_the_natural_cnn(cnn, mnist) -> None:
    checks = run(cnn, mnist)
    failed = [c.detail for c in checks.values() if not c.passed]
    assert failed == []
    assert all(isinstance(c.value, float) and c.detail for c in checks.values())
    assert checks["gradients_exist"].value == 1.0
    assert checks["pgd_at_least_fgsm"].value == 0
    assert checks["unbounded_eps_zero_accuracy"].value == 0.0
    assert checks["targeted_reaches_target"].value == 1.0


@pytest.mark.parametrize("name", ["mnist_cnn", "mnist_cnn_at", "shapes_cnn"])
def test_shipped_models_pass_at_the_suites_settings(name: str) -> None:
    """No false alarm on a sound model: the default suite's settings at the quick suite's n.
    (Cross-entropy PGD from x at ``steps`` steps reached the target on only 72.7% of
    shapes_cnn's 128 default-suite images.)"""
    model = zoo.load_model(name).eval()
    for settings in (DEFAULT, QUICK):
        checks = run(model, suite_sample(name, 32), n=32, **settings)
        assert [c.detail for c in checks.values() if not c.passed] == []


def test_shapes_cnn_passes_at_the_default_suites_n() -> None:
    model = zoo.load_model("shapes_cnn").eval()
    checks = run(model, suite_sample("shapes_cnn", 128), n=128, **DEFAULT)
    assert [c.detail for c in checks.values() if not c.passed] == []


def test_checks_catch_gradient_masking(cnn, mnist) -> None:
    masked = QuantisedInput(cnn)
    x = mnist[0][:50]
    with torch.no_grad():  # same classifier: the masking is invisible on clean data
        assert torch.equal(masked(x).argmax(1), cnn(x).argmax(1))
    checks = run(masked, mnist, n=50)
    # Every input gradient is exactly zero: the first check names it.
    assert not checks["gradients_exist"].passed
    assert checks["gradients_exist"].value == 0.0
    # The unbounded attacks catch it too: with zero gradients nothing moves (the random
    # starts near x do not change the class), so accuracy at eps 1 stays near the clean
    # accuracy and almost no target is reached.
    assert not checks["unbounded_eps_zero_accuracy"].passed
    assert checks["unbounded_eps_zero_accuracy"].value > 0.9
    assert not checks["targeted_reaches_target"].passed
    assert checks["targeted_reaches_target"].value < 0.05
    # The relative checks cannot: FGSM fools nobody either, and a flat curve is monotone.
    # That is why Carlini et al. insist on the absolute ones.
    assert checks["pgd_at_least_fgsm"].passed and checks["monotone_in_eps"].passed


def test_checks_catch_a_saturated_softmax(cnn, mnist) -> None:
    masked = SaturatedSoftmax(cnn)
    checks = run(masked, mnist, n=30)
    # measured on mnist_cnn's 128 default-suite images: 2 of 128 with a gradient, 96%
    # accuracy at eps 1, 0.8% of the targets reached
    assert not checks["gradients_exist"].passed
    assert checks["gradients_exist"].value < 0.2
    assert not checks["unbounded_eps_zero_accuracy"].passed
    assert checks["unbounded_eps_zero_accuracy"].value > 0.8
    assert not checks["targeted_reaches_target"].passed
    assert checks["targeted_reaches_target"].value < 0.1


@pytest.mark.parametrize("wrapper", [Detached, Thermometer])
def test_a_model_without_input_gradients_gets_a_verdict(cnn, mnist, wrapper) -> None:
    model = wrapper(cnn)
    grads_before = [p.requires_grad for p in cnn.parameters()]
    checks = run(model, mnist, n=8)
    first = checks["gradients_exist"]
    assert not first.passed and first.value == 0.0 and first.detail == NO_GRADIENT
    for name in ATTACK_CHECKS:
        assert not checks[name].passed
        assert checks[name].value is None and checks[name].detail == NOT_RUN
    assert [p.requires_grad for p in cnn.parameters()] == grads_before


def test_a_model_without_input_gradients_and_frozen_parameters(cnn, mnist) -> None:
    """Frozen parameters: the output needs no grad at all (the other torch error)."""
    model = Detached(cnn)
    before = [p.requires_grad for p in cnn.parameters()]
    for p in cnn.parameters():
        p.requires_grad_(False)
    try:
        checks = run(model, mnist, n=4)
    finally:
        for p, g in zip(cnn.parameters(), before, strict=True):
            p.requires_grad_(g)
    assert checks["gradients_exist"].detail == NO_GRADIENT
