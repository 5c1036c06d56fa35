"""Shared test fixtures: the shipped models and the MNIST test split, loaded once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

import zoo


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread, restored after each module: on a shared 2-core machine two
    threads wait on each other whenever another process holds a core (4-8x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    return zoo.load_dataset("mnist5k", "test")


@pytest.fixture(scope="session")
def shipped() -> dict[str, zoo.Classifier]:
    return {name: zoo.load_model(name) for name in ("mnist_logreg", "mnist_cnn", "mnist_cnn_at")}
