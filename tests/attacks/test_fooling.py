"""Fooling images: any image to any class."""

from __future__ import annotations

import pytest
import torch

from attacks import FoolingGrid, fool, fooling_grid


def test_fool_makes_the_target_confident(cnn, mnist) -> None:
    x, y = mnist[0][:20], mnist[1][:20]
    target = (y + 3) % 10
    x_adv = fool(cnn, x, target, eps=0.3, alpha=0.03, steps=20)
    with torch.no_grad():
        prob = cnn(x_adv).softmax(1).gather(1, target[:, None]).squeeze(1)
    # measured 19 of 20 above 0.5 (0.4 reaches all 20); 0.3 is MNIST's usual budget
    assert float((prob > 0.5).float().mean()) >= 0.9
    assert float((x_adv - x).abs().max()) <= 0.3 + 1e-6


def test_fooling_grid(cnn, mnist) -> None:
    x, y = mnist
    grid = fooling_grid(cnn, x, y, classes=[3, 7, 1], eps=0.3, alpha=0.03, steps=20)
    assert isinstance(grid, FoolingGrid) and grid.classes == (3, 7, 1)
    assert grid.sources.shape == (3, 1, 28, 28) and grid.images.shape == (3, 3, 1, 28, 28)
    assert grid.target_prob.shape == grid.predicted.shape == grid.success.shape == (3, 3)
    assert grid.success.dtype == torch.bool and grid.predicted.dtype == torch.int64
    for i, (c, idx) in enumerate(zip(grid.classes, grid.source_index, strict=True)):
        assert int(y[idx]) == c and torch.equal(grid.sources[i], x[idx])
        assert torch.equal(grid.images[i, i], x[idx])  # diagonal: the clean image
        # the first correctly classified image of its class
        with torch.no_grad():
            earlier = (y[:idx] == c) & (cnn(x[:idx]).argmax(1) == c) if idx else torch.zeros(0)
        assert not bool(earlier.any())
    assert bool(grid.success.diagonal().all())
    assert grid.success_rate() == pytest.approx(float(grid.success.sum() - 3) / 6)
    assert grid.success_rate() >= 5 / 6
    off = ~torch.eye(3, dtype=torch.bool)
    assert float((grid.images - grid.sources[:, None]).abs().amax()) <= 0.3 + 1e-6
    assert float(grid.target_prob[off][grid.success[off]].min()) > 0.1


def test_fooling_grid_default_classes_and_missing_class(cnn, mnist) -> None:
    x, y = mnist
    grid = fooling_grid(cnn, x, y, eps=0.0, alpha=0.0, steps=1)
    assert grid.classes == tuple(range(10))
    assert grid.success_rate() == 0.0  # no budget: nothing moves
    only_ones = y == 1
    with pytest.raises(ValueError, match="classes: no correctly classified image of class 0"):
        fooling_grid(cnn, x[only_ones][:5], y[only_ones][:5], eps=0.1, alpha=0.01, steps=1)
