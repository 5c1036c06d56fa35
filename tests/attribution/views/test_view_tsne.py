"""The representation space: penultimate features, their nearest neighbours, and t-SNE."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zoo
from attribution.views import nearest_neighbours, penultimate_features, tsne_embedding


def test_penultimate_features_are_the_last_linear_input(mnist_cnn, digits, assert_unchanged):
    x = digits[0][:40]
    before = zoo.ModelState.capture(mnist_cnn)
    feats = penultimate_features(mnist_cnn, x, batch_size=16)
    assert_unchanged(mnist_cnn, before)
    with torch.no_grad():
        expected = mnist_cnn.net[:9](mnist_cnn.normalize(x))  # after the hidden ReLU
    assert feats.shape == (40, 128)
    torch.testing.assert_close(feats, expected)
    torch.testing.assert_close(penultimate_features(mnist_cnn, x, batch_size=40), feats)
    assert penultimate_features(mnist_cnn, x[:2], layer="net.7").shape == (2, 64 * 7 * 7)


def test_bad_input_fails_before_any_forward(mnist_cnn, digits, counting):
    model = counting(mnist_cnn)
    with pytest.raises(KeyError, match="net.7"):
        penultimate_features(model, digits[0][:2], layer="net.7")
    with pytest.raises(ValueError, match="batch_size"):
        penultimate_features(model, digits[0][:2], batch_size=0)
    with pytest.raises(ValueError, match="no nn.Linear"):
        penultimate_features(torch.nn.Conv2d(1, 1, 3), digits[0][:2])
    assert model.calls == 0
    with pytest.raises(RuntimeError):
        penultimate_features(model, torch.rand(2, 3, 28, 28))
    assert all(not m._forward_pre_hooks for m in model.modules())


def test_feature_space_neighbours_share_a_class_more_than_pixel_neighbours(mnist_cnn):
    # the lecture's point: L2 neighbours of penultimate features are semantic, pixel
    # neighbours much less so (measured 0.99 vs 0.91 for 1-NN on 1,000 / 300 digits)
    xtr, ytr = zoo.load_dataset("mnist5k", "train")
    xtr, ytr = xtr[:1000], ytr[:1000]
    xte, yte = zoo.load_dataset("mnist5k", "test")
    xte, yte = xte[:300], yte[:300]
    accuracy = {}
    for space, bank, queries in (
        ("features", penultimate_features(mnist_cnn, xtr), penultimate_features(mnist_cnn, xte)),
        ("pixels", xtr, xte),
    ):
        idx, dist = nearest_neighbours(bank, queries, k=1)
        assert idx.shape == dist.shape == (300, 1)
        accuracy[space] = float((ytr[idx[:, 0]] == yte).float().mean())
    assert accuracy["features"] > 0.95
    assert accuracy["features"] > accuracy["pixels"] + 0.03


def test_nearest_neighbours_by_hand():
    bank = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
    idx, dist = nearest_neighbours(bank, torch.tensor([[0.0, 0.0], [3.0, 3.0]]), k=2)
    assert idx.tolist() == [[0, 2], [1, 2]]
    torch.testing.assert_close(dist, torch.tensor([[0.0, 1.0], [1.0, (4.0 + 9.0) ** 0.5]],
                                                  dtype=torch.float64))
    images = torch.rand(4, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    idx, dist = nearest_neighbours(images, images, k=1)  # pixel space: flattened
    assert idx[:, 0].tolist() == [0, 1, 2, 3] and dist.eq(0).all()
    with pytest.raises(ValueError, match="k must"):
        nearest_neighbours(bank, bank, k=4)
    with pytest.raises(ValueError, match="dimensions"):
        nearest_neighbours(bank, torch.zeros(1, 3), k=1)
    with pytest.raises(ValueError, match="queries"):
        nearest_neighbours(bank, torch.tensor([[float("nan"), 0.0]]), k=1)


def test_tsne_is_deterministic_and_keeps_classes_apart(mnist_cnn, digits):
    x, y = digits[0][:120], digits[1][:120]
    feats = penultimate_features(mnist_cnn, x)
    first = tsne_embedding(feats, seed=0, perplexity=10)
    assert isinstance(first, np.ndarray) and first.shape == (120, 2)
    assert first.dtype == np.float64
    np.testing.assert_array_equal(tsne_embedding(feats, seed=0, perplexity=10), first)
    # leave-one-out 1-NN in the plane: the classes are clusters there too
    idx, _ = nearest_neighbours(first, first, k=2)
    assert float((y[idx[:, 1]] == y).float().mean()) > 0.85


def test_tsne_bad_input():
    feats = torch.rand(20, 4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="perplexity"):
        tsne_embedding(feats, seed=0, perplexity=20)
    with pytest.raises(ValueError, match="seed"):
        tsne_embedding(feats, seed=None)
    with pytest.raises(ValueError, match="features"):
        tsne_embedding(torch.zeros(20), seed=0)
    with pytest.raises(ValueError, match="features"):
        tsne_embedding("abc", seed=0)
