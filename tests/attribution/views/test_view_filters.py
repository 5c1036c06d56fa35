"""First-layer filters: a copy of the first convolution's weights (their display grid is the
representation section's, ``tests/bench/kinds/test_representation_section.py``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from attribution.views import first_layer_filters


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
