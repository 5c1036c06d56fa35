"""First-layer filters and their per-filter-scaled grid."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from attribution.views import filter_grid, first_layer_filters


def test_first_layer_filters_are_a_copy_of_the_first_conv(mnist_cnn, assert_unchanged):
    before = zoo.ModelState.capture(mnist_cnn)
    w = first_layer_filters(mnist_cnn)
    assert w.shape == (32, 1, 5, 5)
    torch.testing.assert_close(w, mnist_cnn.net[0].weight, rtol=0, atol=0)
    assert not w.requires_grad
    w.zero_()  # a copy: the model keeps its weights
    assert_unchanged(mnist_cnn, before)


def test_named_layer_and_bad_names(mnist_cnn):
    assert first_layer_filters(mnist_cnn, "net.3").shape == (64, 32, 5, 5)
    with pytest.raises(KeyError, match="net.99"):
        first_layer_filters(mnist_cnn, "net.99")
    with pytest.raises(ValueError, match="net.7.*not an nn.Conv2d"):
        first_layer_filters(mnist_cnn, "net.7")
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        first_layer_filters(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


def test_each_filter_is_scaled_on_its_own():
    filters = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]],
                            [[[-10.0, 10.0], [0.0, 0.0]]],
                            [[[7.0, 7.0], [7.0, 7.0]]]])  # (3, 1, 2, 2)
    grid = filter_grid(filters, ncols=3, pad=1)
    assert grid.shape == (1, 1 + 2 + 1, 1 + 3 * (2 + 1))
    torch.testing.assert_close(grid[0, 1:3, 1:3], torch.tensor([[0, 1 / 3], [2 / 3, 1.0]]))
    torch.testing.assert_close(grid[0, 1:3, 4:6], torch.tensor([[0.0, 1.0], [0.5, 0.5]]))
    torch.testing.assert_close(grid[0, 1:3, 7:9], torch.full((2, 2), 0.5))  # constant: grey
    assert grid[0, 0].eq(0).all() and grid[0, :, 3].eq(0).all()  # padding


def test_rgb_filters_stay_rgb_other_channel_counts_are_grey():
    g = torch.Generator().manual_seed(0)
    rgb = filter_grid(torch.randn(4, 3, 3, 3, generator=g), pad=0)
    assert rgb.shape == (3, 6, 6)
    assert float(rgb.min()) == 0.0 and float(rgb.max()) == 1.0
    two = filter_grid(torch.randn(5, 2, 3, 3, generator=g), pad=1)
    assert two.shape == (1, 5 * 4 + 1, 2 * 4 + 1)  # a row per filter, a tile per channel


def test_bad_filters():
    for bad in (torch.zeros(2, 3, 3), [[1.0]], torch.zeros(2, 1, 3, 3, dtype=torch.int64),
                torch.full((2, 1, 3, 3), float("nan"))):
        with pytest.raises(ValueError, match="filters"):
            filter_grid(bad)
    with pytest.raises(ValueError, match="ncols"):
        filter_grid(torch.zeros(2, 1, 3, 3), ncols=0)
    with pytest.raises(ValueError, match="pad"):
        filter_grid(torch.zeros(2, 1, 3, 3), pad=-1)
