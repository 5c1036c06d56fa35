"""Fixtures for the attribution-metric tests: one intra-op thread, a spread of MNIST test
digits and of shapes test images with their masks, and the trained models."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import zoo


@pytest.fixture(scope="session")
def mnist_cnn() -> nn.Module:
    return zoo.load_model("mnist_cnn")


@pytest.fixture(scope="session")
def shapes_cnn() -> nn.Module:
    return zoo.load_model("shapes_cnn")


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """32 MNIST test digits spread over the split (it is stored sorted by class)."""
    x, y = zoo.load_dataset("mnist5k", "test")
    return x[::31][:32].contiguous(), y[::31][:32].contiguous()


@pytest.fixture(scope="session")
def shapes() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first 128 shapes test images, labels and object masks."""
    x, y = zoo.load_dataset("shapes", "test")
    mask = zoo.load_masks("shapes", "test")
    return x[:128].contiguous(), y[:128].contiguous(), mask[:128].contiguous()


def sobel_map(model: nn.Module, x: torch.Tensor, target: object) -> torch.Tensor:
    """An "edge detector" explanation that never looks at the model: the Sobel gradient
    magnitude of the grey image."""
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    w = torch.stack([k, k.T]).unsqueeze(1).to(x)  # (2, 1, 3, 3)
    g = F.conv2d(x.mean(1, keepdim=True), w, padding=1)
    return g.norm(dim=1, keepdim=True)


@pytest.fixture(scope="session")
def sobel() -> object:
    return sobel_map


class Counting(nn.Module):
    """Forwards to ``model`` and counts calls, to prove a check ran before any work."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.num_classes = zoo.num_classes(model)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.model(x)


@pytest.fixture
def counting(mnist_cnn: nn.Module) -> Counting:
    return Counting(mnist_cnn).eval()
