"""Three ways a model masks its gradients, each wrapped around the shipped ``mnist_cnn``
(factories for ``auditbench run --model masked.py:NAME``): gradient attacks see nothing
useful, yet the model is as easy to fool as ``mnist_cnn``. Athalye et al. 2018 broke
published defences of each kind."""

from __future__ import annotations

import torch
from torch import nn

import zoo


class Quantised(nn.Module):
    """Reads its input rounded to ``levels`` grey levels: ``torch.round`` has a zero
    gradient almost everywhere (shattered gradients)."""

    def __init__(self, levels: int = 4) -> None:
        super().__init__()
        self.net, self.levels = zoo.load_model("mnist_cnn"), levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.round(x * self.levels) / self.levels)


class Saturated(nn.Module):
    """Returns ``softmax(100 * logits)`` as its logits: confident outputs are exactly 0 and 1
    in float32, so their gradients vanish (saturated softmax)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = zoo.load_model("mnist_cnn")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(100.0 * self.net(x), dim=1)


class Thermometer(nn.Module):
    """A thermometer encoding (Buckman et al. 2018) of every pixel into ``levels`` bits, read
    back as the share of bits set: a comparison, so the output has no autograd path to the
    input at all."""

    def __init__(self, levels: int = 16) -> None:
        super().__init__()
        self.net = zoo.load_model("mnist_cnn")
        self.register_buffer("thresholds", (torch.arange(levels) + 0.5) / levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bits = (x.unsqueeze(-1) > self.thresholds).float()  # (N, C, H, W, levels)
        return self.net(bits.mean(dim=-1))


def quantised() -> nn.Module:
    return Quantised().eval()


def saturated() -> nn.Module:
    return Saturated().eval()


def thermometer() -> nn.Module:
    return Thermometer().eval()
