"""Fixtures for the representation-view tests: one intra-op thread, the shipped MNIST CNN,
a few hundred test digits, and a model wrapper that counts forward passes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

import zoo
from tests.helpers import CountingModel


@pytest.fixture
def counting() -> Callable[[nn.Module], CountingModel]:
    return lambda model: CountingModel(model).eval()


@pytest.fixture(scope="session")
def mnist_cnn() -> nn.Module:
    return zoo.load_model("mnist_cnn")


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The first 300 digits of the MNIST test split (any prefix of it is a random sample)."""
    x, y = zoo.load_dataset("mnist5k", "test")
    return x[:300].contiguous(), y[:300].contiguous()


def unchanged(model: nn.Module, before: zoo.ModelState) -> None:
    assert before.differences(zoo.ModelState.capture(model)) == []


@pytest.fixture(scope="session")
def assert_unchanged() -> Callable[[nn.Module, zoo.ModelState], None]:
    return unchanged
