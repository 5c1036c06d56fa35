"""Live activations: a layer's feature maps, their response to a sliding grey patch, and the
channel grid."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import zoo
from attribution.views import (
    activation_grid,
    activations,
    max_patches,
    occluded_activations,
    occlusion_positions,
    occlusion_probability_map,
    penultimate_features,
)
from tests.test_buffers import bn_model, data


def test_activations_are_the_layer_output(mnist_cnn, digits, assert_unchanged):
    x = digits[0][:5]
    before = zoo.ModelState.capture(mnist_cnn)
    acts = activations(mnist_cnn, x, "net.3")
    assert_unchanged(mnist_cnn, before)
    with torch.no_grad():
        expected = mnist_cnn.net[:4](mnist_cnn.normalize(x))
    assert acts.shape == (5, 64, 14, 14)
    torch.testing.assert_close(acts, expected)
    assert not acts.requires_grad


def test_activations_survive_an_inplace_relu():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True)).eval()
    with torch.no_grad():
        model[0].weight.fill_(-1.0)
        model[0].bias.zero_()
    acts = activations(model, torch.ones(1, 1, 4, 4), "0")
    torch.testing.assert_close(acts, torch.full((1, 2, 2, 2), -9.0))  # before the ReLU


def test_hooks_gone_after_an_error(mnist_cnn, assert_unchanged):
    before = zoo.ModelState.capture(mnist_cnn)
    with pytest.raises(RuntimeError):
        activations(mnist_cnn, torch.rand(1, 3, 28, 28), "net.3")  # three channels: conv fails
    with pytest.raises(RuntimeError):
        occluded_activations(mnist_cnn, torch.rand(1, 3, 28, 28), "net.3", window=4, stride=4)
    assert_unchanged(mnist_cnn, before)


def test_occluded_activations_by_hand(mnist_cnn, digits, assert_unchanged):
    x = digits[0][:1]
    before = zoo.ModelState.capture(mnist_cnn)
    out = occluded_activations(mnist_cnn, x, "net.3", window=10, stride=(6, 9), baseline=0.5)
    assert_unchanged(mnist_cnn, before)
    corners = occlusion_positions((28, 28), window=10, stride=(6, 9))
    assert corners.tolist() == [[r, c] for r in (0, 6, 12, 18) for c in (0, 9, 18)]
    assert out.shape == (12, 64)
    for p, (r, c) in enumerate(corners.tolist()):
        occluded = x.clone()
        occluded[..., r:r + 10, c:c + 10] = 0.5
        expected = activations(mnist_cnn, occluded, "net.3").mean(dim=(2, 3))[0]
        torch.testing.assert_close(out[p], expected)
    small = occluded_activations(mnist_cnn, x, "net.3", window=10, stride=(6, 9), batch_size=5)
    torch.testing.assert_close(small, out)


def test_occluded_activations_of_a_flat_layer(mnist_cnn, digits):
    out = occluded_activations(mnist_cnn, digits[0][:1], "net.7", window=14, stride=14)
    assert out.shape == (4, 128)


def test_bad_input_fails_before_any_forward(mnist_cnn, digits, counting):
    model = counting(mnist_cnn)
    x = digits[0][:2]
    cases = [
        (dict(x=x), ValueError, "one image"),
        (dict(window=29), ValueError, "window"),
        (dict(stride=0), ValueError, "stride"),
        (dict(baseline=float("nan")), ValueError, "baseline"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(layer="net.42"), KeyError, "net.42"),
        (dict(x=x[:1] * 2), ValueError, r"\[0, 1\]"),
    ]
    for change, error, match in cases:
        kwargs = dict(x=x[:1], layer="model.net.3", window=4, stride=4) | change
        with pytest.raises(error, match=match):
            occluded_activations(model, **kwargs)
    with pytest.raises(KeyError, match="model.net.42"):
        activations(model, x, "model.net.42")
    assert model.calls == 0


def test_training_mode_warns_and_stays():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout()).train()
    with pytest.warns(RuntimeWarning, match="training mode"):
        activations(model, torch.rand(1, 1, 5, 5), "0")
    assert model.training


def test_activation_grid_places_channels():
    maps = torch.arange(4 * 2 * 3, dtype=torch.float32).view(4, 2, 3) + 1
    grid = activation_grid(maps, pad=1)
    assert grid.shape == (1, 2 * 3 + 1, 2 * 4 + 1)
    torch.testing.assert_close(grid[0, 1:3, 1:4], maps[0])
    torch.testing.assert_close(grid[0, 4:6, 5:8], maps[3])
    assert grid[0, 0].eq(0).all()
    torch.testing.assert_close(activation_grid(maps.unsqueeze(0), ncols=4),
                               activation_grid(maps, ncols=4))
    with pytest.raises(ValueError, match="maps"):
        activation_grid(torch.zeros(2, 4, 2, 3))


#: every view that runs a model
VIEWS: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], Any]] = {
    "activations": lambda m, x, y: activations(m, x, "net.2"),
    "occluded_activations": lambda m, x, y: occluded_activations(
        m, x[:1], "net.2", window=4, stride=4),
    "occlusion_probability_map": lambda m, x, y: occlusion_probability_map(
        m, x, y, window=4, stride=4),
    "penultimate_features": lambda m, x, y: penultimate_features(m, x),
    "max_patches": lambda m, x, y: max_patches(m, x, "net.2", [0], k=2),
}


def _explode(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> None:
    raise RuntimeError("forward failed on purpose, after the batch-norm update")


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_keep_batch_norm_buffers_in_training_mode(name: str) -> None:
    """A batch-norm model in training mode: its running statistics (every buffer) and its
    parameters are as before the view, after success and when the forward pass raises right
    after the first batch norm updated them (before any layer a view stops at)."""
    x, y = data()
    failing = bn_model()
    failing.net[1].register_forward_hook(_explode)
    for model in (bn_model(), failing):
        before = zoo.ModelState.capture(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if model is failing:
                with pytest.raises(RuntimeError, match="on purpose"):
                    VIEWS[name](model, x, y)
            else:
                VIEWS[name](model, x, y)
        assert zoo.ModelState.capture(model).differences(before) == []
