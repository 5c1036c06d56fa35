"""Shared test fixtures: the shipped models and the MNIST test split, loaded once."""

from __future__ import annotations

import pytest
import torch

import zoo


@pytest.fixture(scope="session")
def mnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    return zoo.load_dataset("mnist5k", "test")


@pytest.fixture(scope="session")
def shipped() -> dict[str, zoo.Classifier]:
    return {name: zoo.load_model(name) for name in ("mnist_logreg", "mnist_cnn", "mnist_cnn_at")}
