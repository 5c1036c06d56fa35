"""Carlini et al. 2019's sanity checks: they pass on the natural CNN and catch a model that
masks its gradients."""

from __future__ import annotations

import torch
from torch import nn

from attacks import SanityCheck, carlini_checks

NAMES = ["pgd_at_least_fgsm", "monotone_in_eps", "more_steps_no_better",
         "unbounded_eps_zero_accuracy", "targeted_reaches_target"]
N = 100


class QuantisedInput(nn.Module):
    """Rounds the pixels to 8 bits before the network: the same predictions as the network,
    but ``round`` has a zero derivative, so every input gradient is exactly 0 and
    gradient attacks never move. A textbook case of gradient masking (Athalye et al. 2018's
    "shattered gradients"): robust-looking numbers from a model that is not robust."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.num_classes = 10
        self.training = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * 255) / 255)


def run(model: nn.Module, mnist, n: int = N) -> dict[str, SanityCheck]:
    x, y = mnist[0][:n], mnist[1][:n]
    checks = carlini_checks(model, x, y, eps=0.1, eps_grid=[0.05, 0.1, 0.2], steps=10,
                            generator=torch.Generator().manual_seed(0))
    assert [c.name for c in checks] == NAMES
    return {c.name: c for c in checks}


def test_checks_pass_on_the_natural_cnn(cnn, mnist) -> None:
    checks = run(cnn, mnist)
    failed = [c.detail for c in checks.values() if not c.passed]
    assert failed == []
    assert all(isinstance(c.value, float) and c.detail for c in checks.values())
    assert checks["pgd_at_least_fgsm"].value == 0
    assert checks["unbounded_eps_zero_accuracy"].value == 0.0
    assert checks["targeted_reaches_target"].value == 1.0


def test_checks_catch_gradient_masking(cnn, mnist) -> None:
    masked = QuantisedInput(cnn)
    x = mnist[0][:50]
    with torch.no_grad():  # same classifier: the masking is invisible on clean data
        assert torch.equal(masked(x).argmax(1), cnn(x).argmax(1))
    checks = run(masked, mnist, n=50)
    # The unbounded attacks are what catch it: with zero gradients nothing moves, so
    # accuracy at eps 1 stays at the clean accuracy and no target is reached.
    assert not checks["unbounded_eps_zero_accuracy"].passed
    assert checks["unbounded_eps_zero_accuracy"].value > 0.9
    assert not checks["targeted_reaches_target"].passed
    assert checks["targeted_reaches_target"].value < 0.05
    # The relative checks cannot: FGSM fools nobody either, and a flat curve is monotone.
    # That is why Carlini et al. insist on the absolute ones.
    assert checks["pgd_at_least_fgsm"].passed and checks["monotone_in_eps"].passed
