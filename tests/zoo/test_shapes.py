from __future__ import annotations

import numpy as np
import pytest
import torch

import zoo
from zoo.shapes import CLASSES, generate, shape_mask


def test_generate_is_deterministic_per_index_and_seed() -> None:
    small, large = generate(5, seed=7), generate(12, seed=7)
    assert torch.equal(small.x, large.x[:5]) and torch.equal(small.mask, large.mask[:5])
    assert torch.equal(small.y, large.y[:5])
    assert not torch.equal(generate(5, seed=8).x, small.x)


def test_images_labels_masks_are_consistent() -> None:
    data = generate(200, seed=3)
    assert data.x.shape == (200, 3, 32, 32) and data.x.dtype == torch.float32
    assert float(data.x.min()) >= 0 and float(data.x.max()) <= 1
    assert data.mask.shape == (200, 1, 32, 32) and data.mask.dtype == torch.bool
    assert set(data.y.tolist()) == set(range(len(CLASSES)))
    share = data.mask.float().mean(dim=(1, 2, 3))
    assert float(share.min()) > 0.03 and float(share.max()) < 0.45  # one object, not a scene
    for i in range(20):  # the shape is painted in one flat colour over its whole mask
        inside = data.x[i][:, data.mask[i, 0]]
        assert float((inside - inside[:, :1]).abs().max()) == 0.0


def test_shape_masks_by_hand() -> None:
    circle = shape_mask("circle", 9, 4.5, 4.5, 2.0, 0.0)
    assert circle.sum() == 13 and circle[4, 4] and not circle[0, 0]  # lattice points, |p| <= 2
    square = shape_mask("square", 10, 5.0, 5.0, 2.0 / 0.85, 0.0)
    assert square.sum() == 16 and square[3:7, 3:7].all()  # 4x4 pixels
    triangle = shape_mask("triangle", 32, 16, 16, 10, 0.0)
    rows = triangle.sum(axis=1)
    assert rows[triangle.any(axis=1)][0] < rows[triangle.any(axis=1)][-1]  # apex up, base down
    with pytest.raises(KeyError, match="hexagon"):
        shape_mask("hexagon", 8, 4, 4, 2, 0)


def test_shapes_through_the_zoo() -> None:
    x, y = zoo.load_dataset("shapes", "test")
    mask = zoo.load_masks("shapes", "test")
    assert x.shape == (1000, 3, 32, 32) and y.shape == (1000,) and mask.shape == (1000, 1, 32, 32)
    counts = torch.bincount(y, minlength=4)
    assert int(counts.min()) > 200  # roughly balanced over the four classes
    assert zoo.DATASETS["shapes"].class_names == CLASSES
    with pytest.raises(KeyError, match="no object masks"):
        zoo.load_masks("mnist5k")
    with pytest.raises(ValueError, match="n must be"):
        generate(0, seed=0)
    assert np.isclose(float(x.mean()), 0.5, atol=0.05)
