"""Fragility: an unperturbed input keeps its map exactly, a small FGSM step moves it, images
whose label flips are left out, and the contract."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import zoo
from attribution.metrics import fragility


def input_map(model: nn.Module, x: torch.Tensor, target: object) -> torch.Tensor:
    return x.clone()


def test_identical_input_scores_one(digits, mnist_cnn) -> None:
    x, y = digits
    result = fragility(mnist_cnn, x, y, "saliency", eps=0.0)
    assert bool(result.kept.all())
    torch.testing.assert_close(result.spearman, torch.ones(32, dtype=torch.float64))
    torch.testing.assert_close(result.top_k_overlap, torch.ones(32, dtype=torch.float64))
    assert result.k == 8  # 1% of 784 pixels


def test_small_perturbation_moves_saliency(digits, mnist_cnn) -> None:
    x, y = digits
    x_before = x.clone()
    before = zoo.ModelState.capture(mnist_cnn)
    result = fragility(mnist_cnn, x, y, "saliency", eps=8 / 255)
    assert before.differences(zoo.ModelState.capture(mnist_cnn)) == []
    assert torch.equal(x, x_before)
    assert (result.x_perturbed - x).abs().max() <= 8 / 255 + 1e-6
    # measured: 31 of 32 kept, Spearman 0.80, top-1% overlap 0.86
    assert int(result.kept.sum()) >= 28
    assert result.mean_spearman < 0.9
    assert result.mean_top_k_overlap < 0.95
    rand = fragility(mnist_cnn, x, y, "saliency", eps=8 / 255, attack="random",
                     generator=torch.Generator().manual_seed(0))
    again = fragility(mnist_cnn, x, y, "saliency", eps=8 / 255, attack="random",
                      generator=torch.Generator().manual_seed(0))
    assert rand.mean_spearman < 0.9
    assert torch.equal(rand.x_perturbed, again.x_perturbed)


def test_flipped_labels_are_left_out() -> None:
    # class 1 when the pixel sum exceeds 2; FGSM lowers every pixel by eps = 0.05
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([torch.zeros(4), torch.ones(4)]))
        model[1].bias.copy_(torch.tensor([0.0, -2.0]))
    model.eval()
    x = torch.tensor([[0.9, 0.8, 0.95, 0.7], [0.6, 0.5, 0.55, 0.45]]).view(2, 1, 2, 2)
    # sums 3.35 (stays above 2 after the step) and 2.1 (falls to 1.9: the label flips)
    result = fragility(model, x, 1, input_map, eps=0.05, top_k=2)
    assert result.kept.tolist() == [True, False]
    assert result.spearman[0].item() == pytest.approx(1.0)
    assert math.isnan(result.spearman[1].item()) and math.isnan(result.top_k_overlap[1].item())
    assert result.mean_spearman == pytest.approx(1.0)
    assert result.mean_top_k_overlap == pytest.approx(1.0)
    torch.testing.assert_close(result.x_perturbed, x - 0.05)


def test_top_k_as_count_or_fraction(digits, mnist_cnn) -> None:
    x, y = digits[0][:4], digits[1][:4]
    assert fragility(mnist_cnn, x, y, "saliency", eps=0.0, top_k=20).k == 20
    assert fragility(mnist_cnn, x, y, "saliency", eps=0.0, top_k=0.05).k == 39


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eps": -0.1}, "eps"),
        ({"attack": "pgd"}, "attack"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": 1.5}, "top_k"),
        ({"top_k": 10_000}, "top_k"),
        ({"generator": "seed"}, "generator"),
        ({"method": None}, "method"),
    ],
)
def test_bad_input_fails_before_any_work(digits, counting, kwargs, match) -> None:
    x, y = digits[0][:3], digits[1][:3]
    args = {"method": "saliency", **kwargs}
    with pytest.raises(ValueError, match=match):
        fragility(counting, x, y, args.pop("method"), **args)
    assert counting.calls == 0
