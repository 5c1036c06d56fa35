"""Bad input raises one clear error naming the argument, before any forward pass."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import attribution
from zoo.errors import UserError

METHODS = attribution.list_methods()


@pytest.fixture
def counted(kit, cnn):
    return kit.CountingModel(cnn)


def call(kit, name: str, model, x, y, **override: Any) -> torch.Tensor:
    kwargs = kit.method_kwargs(name)
    kwargs.update(override)
    if isinstance(kwargs.get("layer"), str) and kwargs["layer"].startswith("net."):
        kwargs["layer"] = "model." + kwargs["layer"]  # inside the CountingModel wrapper
    return attribution.get_method(name)(model, x, y, **kwargs)


def bad_images(x: torch.Tensor) -> list[tuple[Any, str]]:
    nan = x.clone()
    nan[0, 0, 0, 0] = float("nan")
    return [(nan, "NaN"), (x * 2, r"\[0, 1\]"), (x[0], r"\(N, C, H, W\)"),
            ((x * 255).to(torch.uint8), "floating-point"), (x.numpy(), "torch.Tensor"),
            (x.double(), r"^x has dtype torch.float64 but the model's parameters are "
             r"torch.float32: convert the images with x.float\(\) or the model with "
             r"model.double\(\)$"),
            (x.half(), r"x has dtype torch.float16 .* model.half\(\)")]


@pytest.mark.parametrize("name", METHODS)
def test_bad_images(kit, counted, mnist, name) -> None:
    x, y = mnist
    for bad, message in bad_images(x):
        with pytest.raises(UserError, match=message):
            call(kit, name, counted, bad, y)
    assert counted.calls == 0


@pytest.mark.parametrize("name", METHODS)
def test_bad_targets(kit, counted, mnist, name) -> None:
    x, y = mnist
    for bad, message in [(10, "out of range"), (-1, "out of range"), (y + 10, "10 classes"),
                         (y[:3], r"shape \(8,\)"), (y.float(), "integer"), (True, "target"),
                         ("cat", "target")]:
        with pytest.raises(ValueError, match=message):
            call(kit, name, counted, x, bad)
    assert counted.calls == 0


@pytest.mark.parametrize(("name", "override", "error", "message"), [
    ("grad_cam", {"layer": "conv99"}, KeyError, "layer 'conv99' not found"),
    ("grad_cam", {"layer": 3}, ValueError, "layer"),
    ("grad_cam", {"relu": "yes"}, ValueError, "relu"),
    ("guided_backprop", {"layer": "conv9", "neuron": 1}, KeyError, "layer 'conv9' not found"),
    ("deconvnet", {"neuron": 1}, ValueError, "neuron needs a layer"),
    ("deconvnet", {"layer": "net.3"}, ValueError, "needs a neuron"),
    ("deconvnet", {"layer": "net.3", "neuron": (1, -2)}, ValueError, "neuron"),
    ("deconvnet", {"layer": "net.3", "neuron": 2.0}, ValueError, "neuron"),
    ("occlusion", {"window": 0}, ValueError, "window"),
    ("occlusion", {"window": 29}, ValueError, "window"),
    ("occlusion", {"window": (1, 2, 3, 4)}, ValueError, "window"),
    ("occlusion", {"stride": 0}, ValueError, "stride"),
    ("occlusion", {"stride": 5}, ValueError, "stride .* larger than the window"),
    ("occlusion", {"stride": (1, 2, 3)}, ValueError, "stride"),
    ("occlusion", {"baseline": float("nan")}, ValueError, "baseline"),
    ("occlusion", {"baseline": torch.zeros(3, 28, 28)}, ValueError, "baseline"),
    ("occlusion", {"batch_size": 0}, ValueError, "batch_size"),
    ("smoothgrad", {"samples": -1}, ValueError, "samples"),
    ("smoothgrad", {"samples": 0}, ValueError, "samples"),
    ("smoothgrad", {"sigma": -0.1}, ValueError, "sigma"),
    ("smoothgrad", {"sigma": float("inf")}, ValueError, "sigma"),
    ("smoothgrad", {"generator": 3}, ValueError, "generator"),
    ("integrated_gradients", {"steps": -5}, ValueError, "steps"),
    ("integrated_gradients", {"steps": 1, "method": "riemann_trapezoid"}, ValueError, "steps"),
    ("integrated_gradients", {"method": "simpson"}, ValueError, "method"),
    ("integrated_gradients", {"baseline": float("nan")}, ValueError, "baseline"),
    ("integrated_gradients", {"baseline": torch.zeros(2, 28)}, ValueError, "baseline"),
    ("integrated_gradients", {"baseline": torch.zeros(2, 8, 1, 28, 28)}, ValueError, "baseline"),
])
def test_bad_hyperparameters(kit, counted, mnist, name, override, error, message) -> None:
    x, y = mnist
    target = None if "layer" in override and name != "grad_cam" else y
    with pytest.raises(error, match=message):
        call(kit, name, counted, x, target, **override)
    assert counted.calls == 0


def test_bad_neuron_index_is_named_after_the_forward(cnn, mnist) -> None:
    # the layer's shape is only known once it ran: a ValueError, before any backward pass
    x, _ = mnist
    with pytest.raises(ValueError, match="neuron"):
        attribution.guided_backprop(cnn, x, None, layer="net.3", neuron=(64, 0, 0))
    with pytest.raises(ValueError, match="neuron"):
        attribution.deconvnet(cnn, x, None, layer="net.3", neuron=(1, 2))
    with pytest.raises(ValueError, match="target must be None"):
        attribution.deconvnet(cnn, x, 3, layer="net.3", neuron=1)


def test_saliency_map_and_upsample_check_their_input() -> None:
    with pytest.raises(ValueError, match="grad"):
        attribution.saliency_map(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="size"):
        attribution.upsample(torch.zeros(1, 1, 4, 4), (0, 3))
    with pytest.raises(ValueError, match="cam"):
        attribution.upsample(torch.zeros(4, 4), (8, 8))


def test_model_must_be_a_module(mnist) -> None:
    x, y = mnist
    with pytest.raises(ValueError, match="model"):
        attribution.saliency(lambda t: t, x, y)
