"""PGD's margin loss, and the one clear error every gradient attack gives a model whose
output has no autograd path to its input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import attacks
from attacks.common import NO_GRADIENT, NoGradientError, margin_loss, predict
from zoo import ModelState


class Detached(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.num_classes = 10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.detach())


def test_margin_loss_is_the_best_other_logit_minus_the_labels() -> None:
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    assert torch.equal(margin_loss(logits, torch.tensor([0, 0])), torch.tensor([-1.0, 5.0]))


def test_pgd_margin_loss_fools_and_reaches_targets(cnn, mnist) -> None:
    x, y = mnist[0][:40], mnist[1][:40]
    kw = dict(eps=0.3, alpha=0.03, steps=20, generator=torch.Generator().manual_seed(0))
    for loss in ("ce", "margin"):
        adv = attacks.pgd(cnn, x, y, loss=loss, **kw)
        assert (adv - x).abs().max() <= 0.3 + 1e-6
        assert float((predict(cnn, adv, y) == y).float().mean()) < 0.1
    target = (y + 1) % 10
    adv = attacks.pgd(cnn, x, target, eps=1.0, alpha=0.025, steps=100, random_start=False,
                      targeted=True, loss="margin", early_stop=True)
    assert torch.equal(predict(cnn, adv, y), target)


def test_pgd_margin_restarts_keep_the_worst_case(cnn, mnist) -> None:
    x, y = mnist[0][:20], mnist[1][:20]
    adv = attacks.pgd(cnn, x, y, eps=0.1, alpha=0.02, steps=5, restarts=2, loss="margin",
                      generator=torch.Generator().manual_seed(0))
    assert adv.shape == x.shape and (adv - x).abs().max() <= 0.1 + 1e-6


def test_pgd_rejects_an_unknown_loss_before_any_work(cnn, mnist) -> None:
    with pytest.raises(ValueError, match="loss"):
        attacks.pgd(cnn, mnist[0][:2], mnist[1][:2], eps=0.1, alpha=0.01, steps=1,
                    loss="dlr")


@pytest.mark.parametrize("call", [
    lambda m, x, y: attacks.fgsm(m, x, y, eps=0.1),
    lambda m, x, y: attacks.bim(m, x, y, eps=0.1, alpha=0.01, steps=2),
    lambda m, x, y: attacks.pgd(m, x, y, eps=0.1, alpha=0.01, steps=2, early_stop=True),
    lambda m, x, y: attacks.apgd(m, x, y, eps=0.1, steps=2),
], ids=["fgsm", "bim", "pgd", "apgd"])
@pytest.mark.parametrize("frozen", [False, True])
def test_attacks_on_a_model_without_input_gradients_raise_one_clear_error(
        cnn, mnist, call, frozen: bool) -> None:
    model = Detached(cnn).eval()
    x, y = mnist[0][:4].clone(), mnist[1][:4].clone()
    before = [p.requires_grad for p in cnn.parameters()]
    if frozen:  # then the output needs no grad at all: torch's other error
        for p in cnn.parameters():
            p.requires_grad_(False)
    state = ModelState.capture(cnn)
    try:
        with pytest.raises(NoGradientError) as err:
            call(model, x, y)
        assert isinstance(err.value, ValueError) and str(err.value) == NO_GRADIENT
        assert state.differences(ModelState.capture(cnn)) == []
    finally:
        for p, g in zip(cnn.parameters(), before, strict=True):
            p.requires_grad_(g)
    assert torch.equal(x, mnist[0][:4])
