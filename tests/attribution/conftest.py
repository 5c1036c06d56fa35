"""Shared fixtures for the attribution tests: one intra-op thread, the shipped MNIST models,
torchvision models with seeded random weights, a hand-weighted tiny CNN, and model wrappers
that count forward passes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

import attribution
import zoo
from tests.helpers import CountingModel
from zoo.params import LayerName, Work


class TinyCNN(nn.Module):
    """conv 3x3 (1 -> 2) - ReLU - conv 3x3 (2 -> 2) - ReLU - flatten - linear 3, on 6x6
    images, with small integer-valued weights so values can be checked by hand."""

    num_classes = 3

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, padding=1)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(2 * 6 * 6, 3)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randint(-2, 3, p.shape, generator=g).float() / 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(h.flatten(1))


@pytest.fixture(scope="session")
def tiny() -> nn.Module:
    return TinyCNN().eval()


@pytest.fixture(scope="session")
def tiny_x() -> torch.Tensor:
    return torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="session")
def linear() -> nn.Module:
    """A linear classifier 2x4x4 -> 3 with set weights: its input gradient is a weight row."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    with torch.no_grad():
        model[1].weight.copy_(torch.arange(96, dtype=torch.float32).view(3, 32) / 10 - 4)
        model[1].bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
    return model.eval()


@pytest.fixture(scope="session")
def mnist() -> tuple[torch.Tensor, torch.Tensor]:
    """Eight test digits, 0 to 7 (the split is stored sorted by class)."""
    x, y = zoo.load_dataset("mnist5k", "test")
    order = torch.argsort(y, stable=True).view(10, -1).T.flatten()
    return x[order][:8].contiguous(), y[order][:8].contiguous()


@pytest.fixture(scope="session")
def cnn() -> nn.Module:
    return zoo.load_model("mnist_cnn")


@pytest.fixture(scope="session")
def logreg() -> nn.Module:
    return zoo.load_model("mnist_logreg")


def _random_tv(name: str) -> nn.Module:
    # torchvision initialises from the global RNG: seed it, in a fork, for fixed weights
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return zoo.load_model(name, weights="random")


@pytest.fixture(scope="session")
def resnet18() -> nn.Module:
    return _random_tv("tv:resnet18")


@pytest.fixture(scope="session")
def vgg16() -> nn.Module:
    return _random_tv("tv:vgg16")


@pytest.fixture(scope="session")
def photos() -> tuple[torch.Tensor, torch.Tensor]:
    """Two random 64x64 colour images and two ImageNet classes."""
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    return x, torch.tensor([3, 917])


# Keyword arguments to run each registered method with a small budget, per model. A newly
# registered method fails test_every_method_has_test_kwargs until it is added here.
LAYERS = {"mnist_cnn": "net.3", "tiny": "conv2", "resnet18": "net.layer4",
          "vgg16": "net.features.29"}


def method_kwargs(name: str, model: str = "mnist_cnn", seed: int = 0) -> dict[str, Any]:
    """Small settings for the tests: hand-picked for the shipped methods (occlusion's stride
    3 leaves a cut last window), read off the signature for any other registered method
    (its suite defaults, 4 iterations, the model's Grad-CAM layer, a seeded generator)."""
    info = attribution.get_method(name)
    if name not in KNOWN:
        derived: dict[str, Any] = dict(info.suite_defaults)
        for key, param in info.settings.items():
            if param.has(Work):
                derived[key] = 4
            elif param.has(LayerName) and param.required:
                derived[key] = LAYERS[model]
        if info.random:
            derived["generator"] = torch.Generator().manual_seed(seed)
        return derived
    kwargs: dict[str, dict[str, Any]] = {
        "saliency": {}, "guided_backprop": {}, "deconvnet": {},
        "occlusion": {"window": 4, "stride": 3, "batch_size": 40},
        "smoothgrad": {"samples": 4, "sigma": 0.15,
                       "generator": torch.Generator().manual_seed(seed)},
        "integrated_gradients": {"steps": 8},
        "grad_cam": {"layer": LAYERS[model]},
    }
    return dict(kwargs[name])


KNOWN = ("saliency", "guided_backprop", "deconvnet", "occlusion", "smoothgrad",
         "integrated_gradients", "grad_cam")


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (importing conftest by name is fragile)."""
    return SimpleNamespace(CountingModel=CountingModel, TinyCNN=TinyCNN,
                           method_kwargs=method_kwargs, methods=attribution.list_methods())
