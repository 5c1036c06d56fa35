"""Shared fixtures for the generative tests: a tiny seeded CNN (with an in-place ReLU and a
Normalize module, like the zoo's models) and two small images."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.normalize import Normalize


class TinyNet(nn.Module):
    """Normalize - conv 3x3 (3 -> 6) - ReLU(inplace) - conv 3x3 (6 -> 8) - ReLU - global average
    pool - linear 4, on 3-channel images of any size (16x16 by default). Layer names:
    ``conv1``, ``relu1``, ``conv2``, ``relu2``, ``fc``."""

    num_classes = 4
    input_shape = (3, 16, 16)

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.normalize = Normalize([0.4, 0.5, 0.6], [0.25, 0.25, 0.25])
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(8, 4)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu2(self.conv2(self.relu1(self.conv1(self.normalize(x)))))
        return self.fc(h.mean(dim=(2, 3)))


@pytest.fixture
def tiny() -> nn.Module:
    """A fresh tiny model per test (tests may set .grad or hooks on it)."""
    return TinyNet().eval()


@pytest.fixture(scope="session")
def images() -> torch.Tensor:
    """Two 3x16x16 images in [0, 1]: smooth gradients plus seeded noise."""
    g = torch.Generator().manual_seed(7)
    ramp = torch.linspace(0, 1, 16)
    base = torch.stack([ramp.view(1, -1).expand(16, 16), ramp.view(-1, 1).expand(16, 16),
                        torch.full((16, 16), 0.5)])
    noise = torch.rand(2, 3, 16, 16, generator=g)
    return (0.6 * base + 0.4 * noise).clamp(0, 1)
