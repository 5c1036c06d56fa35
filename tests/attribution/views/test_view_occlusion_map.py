"""Occlusion probability maps (Zeiler and Fergus 2014, Fig. 7): one softmax probability of
the true class per grey-square position."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import zoo
from attribution.views import occlusion_probability_map


def _sum_model() -> nn.Module:
    """Logits (sum of pixels, 0): the class-0 probability is sigmoid(sum of pixels)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0]]))
        model[1].bias.zero_()
    return model.eval()


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def test_by_hand_on_a_tiny_model(assert_unchanged):
    model = _sum_model()
    x = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    before = zoo.ModelState.capture(model)
    out = occlusion_probability_map(model, x, 0, window=1, stride=1, fill=0.5)
    assert_unchanged(model, before)
    # covering the bright pixel leaves 0.5; covering a dark one adds 0.5 to the sum of 1
    expected = torch.tensor([[[sigmoid(0.5), sigmoid(1.5)], [sigmoid(1.5), sigmoid(1.5)]]])
    torch.testing.assert_close(out, expected)
    # a 1x2 window, stride 1: rows of the image covered in turn, one column position
    out = occlusion_probability_map(model, x, torch.tensor([1]), window=(1, 2), stride=1,
                                    fill=0.0)
    torch.testing.assert_close(out, torch.tensor([[[1 - sigmoid(0.0)], [1 - sigmoid(1.0)]]]))


def test_grid_shape_and_batch_size_independence(mnist_cnn, digits):
    x, y = digits[0][:3], digits[1][:3]
    full = occlusion_probability_map(mnist_cnn, x, y, window=8, stride=5, batch_size=1000)
    assert full.shape == (3, 5, 5)  # (28 - 8) // 5 + 1
    assert full.min() >= 0 and full.max() <= 1
    for batch_size in (1, 7):
        small = occlusion_probability_map(mnist_cnn, x, y, window=8, stride=5,
                                          batch_size=batch_size)
        torch.testing.assert_close(small, full, rtol=1e-5, atol=1e-6)


def test_invisible_occluder_gives_the_clean_probability(mnist_cnn):
    x = torch.full((1, 1, 28, 28), 0.5)
    out = occlusion_probability_map(mnist_cnn, x, 3, window=6, stride=11, fill=0.5)
    with torch.no_grad():
        clean = mnist_cnn(x).softmax(dim=1)[0, 3]
    torch.testing.assert_close(out, clean.expand(1, 3, 3))


def test_bad_input_fails_before_any_forward(mnist_cnn, digits, counting):
    model = counting(mnist_cnn)
    x, y = digits[0][:2], digits[1][:2]
    cases = [
        (dict(target=10), ValueError, "target"),
        (dict(target=torch.tensor([1])), ValueError, "target"),
        (dict(window=(8, 29)), ValueError, "window"),
        (dict(window=0), ValueError, "window"),
        (dict(stride=(1, 0)), ValueError, "stride"),
        (dict(fill=float("nan")), ValueError, "fill"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(x=x.flatten(1)), ValueError, "x must have shape"),
    ]
    for change, error, match in cases:
        kwargs = dict(x=x, target=y, window=8, stride=4) | change
        with pytest.raises(error, match=match):
            occlusion_probability_map(model, **kwargs)
    assert model.calls == 0


def test_no_side_effects_on_error(mnist_cnn, assert_unchanged):
    before = zoo.ModelState.capture(mnist_cnn)
    with pytest.raises(RuntimeError):
        occlusion_probability_map(mnist_cnn, torch.rand(1, 3, 28, 28), 0, window=8, stride=8)
    assert_unchanged(mnist_cnn, before)
