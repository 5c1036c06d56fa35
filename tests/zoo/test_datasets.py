from __future__ import annotations

import numpy as np
import pytest
import torch

import zoo
from zoo.datasets import MNIST_SPLIT_SEED, stratified_split


def test_mnist5k_split_shapes_and_types(mnist_test: tuple[torch.Tensor, torch.Tensor]) -> None:
    x_train, y_train = zoo.load_dataset("mnist5k", "train")
    x_test, y_test = mnist_test
    assert x_train.shape == (4000, 1, 28, 28) and x_test.shape == (1000, 1, 28, 28)
    assert x_train.dtype == x_test.dtype == torch.float32
    assert y_train.dtype == y_test.dtype == torch.int64
    assert float(x_train.min()) == 0.0 and float(x_train.max()) == 1.0
    # stratified: every class keeps its share of the 5,000 in the 1,000 test digits
    all_counts = torch.bincount(torch.cat([y_train, y_test]), minlength=10)
    assert torch.equal(torch.bincount(y_test, minlength=10), all_counts // 5)


def test_mnist5k_split_is_disjoint_and_fixed() -> None:
    x_train, _ = zoo.load_dataset("mnist5k", "train")
    x_test, _ = zoo.load_dataset("mnist5k", "test")
    train_rows = {row.numpy().tobytes() for row in x_train.flatten(1)}
    overlap = sum(row.numpy().tobytes() in train_rows for row in x_test.flatten(1))
    assert overlap <= 2  # MNIST holds a handful of pixel-identical digits; the split does not
    x_again, _ = zoo.load_dataset("mnist5k", "test")
    assert torch.equal(x_test, x_again)


def test_split_rule_quota_and_seed() -> None:
    y = np.repeat(np.arange(3), [50, 30, 20])
    train, test = stratified_split(y, 10, seed=MNIST_SPLIT_SEED)
    assert len(test) == 10 and len(train) == 90
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    assert np.bincount(y[test]).tolist() == [5, 3, 2]
    assert not np.array_equal(test, stratified_split(y, 10, seed=1)[1])
    # largest remainder: 7 places over counts 50/30/20 -> exact 3.5/2.1/1.4 -> 4/2/1
    assert np.bincount(y[stratified_split(y, 7, seed=0)[1]]).tolist() == [4, 2, 1]


def test_splits_are_shuffled_so_prefixes_hold_every_class(
    mnist_test: tuple[torch.Tensor, torch.Tensor],
) -> None:
    _, y_train = zoo.load_dataset("mnist5k", "train")
    for y in (mnist_test[1], y_train):
        assert torch.bincount(y[:100], minlength=10).min() >= 3


def test_photos_resized_rgb() -> None:
    x, y = zoo.load_dataset("photos", "test", size=64)
    assert x.shape == (len(zoo.PHOTOS), 3, 64, 64) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert y.tolist() == [label for label, _ in zoo.PHOTOS.values()]
    assert float(x.std()) > 0.1  # real photographs, not blank tensors


def test_dataset_errors() -> None:
    with pytest.raises(KeyError, match="unknown dataset 'cifar'"):
        zoo.load_dataset("cifar", "test")
    with pytest.raises(ValueError, match="splits"):
        zoo.load_dataset("mnist5k", "validation")
    with pytest.raises(ValueError, match="size"):
        zoo.load_dataset("photos", "test", size=0)
