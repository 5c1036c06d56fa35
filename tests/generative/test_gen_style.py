"""Neural style transfer (Gatys et al. 2016): L-BFGS and Adam both lower the loss, a style
image of another size works, and the method keeps its contract."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

import zoo
from generative.registry import get_method
from generative.style_transfer import DEFAULT_LR, style_transfer
from tests.helpers import CountingModel
from zoo.guard import ModelState

LAYERS = dict(content_layer="relu2", style_layers=["relu1", "relu2"])
WRAPPED = dict(content_layer="model.relu2", style_layers=["model.relu1", "model.relu2"])



def test_registered() -> None:
    info = get_method("style_transfer")
    assert info.fn is style_transfer and info.inputs == "pair"
    assert info.optimizers == ("lbfgs", "adam")


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_both_optimizers_improve_on_the_tiny_model(optimizer: str, tiny: nn.Module,
                                                   images: torch.Tensor) -> None:
    result = style_transfer(tiny, images[:1], images[1:], optimizer=optimizer, steps=10,
                            **LAYERS)
    assert result.improved
    assert set(result.terms) == {"content", "style", "tv"}
    assert float(result.terms["content"][0]) == 0.0  # starts from the content image
    assert result.settings["lr"] == DEFAULT_LR[optimizer]
    assert result.image.shape == (1, 3, 16, 16)


def test_style_of_another_size_and_a_batch(tiny: nn.Module, images: torch.Tensor) -> None:
    style = torch.nn.functional.interpolate(images[1:], size=(24, 20), mode="bilinear")
    result = style_transfer(tiny, images, style.clamp(0, 1), steps=4, optimizer="adam",
                            **LAYERS)
    assert result.image.shape == images.shape and result.improved


def test_noise_init_follows_the_generator(tiny: nn.Module, images: torch.Tensor) -> None:
    def run(seed: int) -> torch.Tensor:
        return style_transfer(tiny, images[:1], images[1:], steps=2, init="noise",
                              generator=torch.Generator().manual_seed(seed), **LAYERS).image

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_no_side_effects_and_inputs_unchanged(tiny: nn.Module, images: torch.Tensor) -> None:
    tiny.conv1.weight.grad = torch.ones_like(tiny.conv1.weight)
    tiny.fc.bias.requires_grad_(False)
    content, style = images[:1].clone(), images[1:].clone()
    before = ModelState.capture(tiny)
    style_transfer(tiny, content, style, steps=3, **LAYERS)
    assert before.differences(ModelState.capture(tiny)) == []
    assert torch.equal(content, images[:1]) and torch.equal(style, images[1:])


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_no_side_effects_after_an_error_mid_run(optimizer: str, tiny: nn.Module,
                                                images: torch.Tensor) -> None:
    model = CountingModel(tiny, fail_at=4)  # 2 target passes, then the optimisation
    tiny.conv2.weight.grad = torch.full_like(tiny.conv2.weight, 3.0)
    tiny.conv1.bias.requires_grad_(False)
    before, content = ModelState.capture(model), images[:1].clone()
    with pytest.raises(RuntimeError, match="on purpose"):
        style_transfer(model, content, images[1:], steps=5, optimizer=optimizer, **WRAPPED)
    assert before.differences(ModelState.capture(model)) == []
    assert torch.equal(content, images[:1])


def test_training_model_warns_and_stays_training(tiny: nn.Module, images: torch.Tensor) -> None:
    tiny.train()
    with pytest.warns(RuntimeWarning, match="training mode"):
        style_transfer(tiny, images[:1], images[1:], steps=1, **LAYERS)
    assert all(m.training for m in tiny.modules())


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(content_layer="nope"), KeyError, "nope"),
    (dict(style_layers=["model.relu1", "nope"]), KeyError, "nope"),
    (dict(content=torch.zeros(1, 3, 0, 16)), ValueError, "content"),
    (dict(style=torch.full((1, 3, 16, 16), torch.nan)), ValueError, "style"),
    (dict(style=torch.rand(1, 1, 16, 16)), ValueError, "style"),
    (dict(style=torch.rand(3, 3, 16, 16)), ValueError, "style"),
    (dict(style_weight=-1.0), ValueError, "style_weight"),
    (dict(content_weight=-1.0), ValueError, "content_weight"),
    (dict(tv_weight=-1.0), ValueError, "tv_weight"),
    (dict(optimizer="sgd"), ValueError, "optimizer"),
    (dict(init="zeros"), ValueError, "init"),
    (dict(steps=0), ValueError, "steps"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(generator=1), ValueError, "generator"),
])
def test_bad_input_fails_before_any_forward(kwargs: dict, error: type, match: str,
                                            tiny: nn.Module, images: torch.Tensor) -> None:
    model = CountingModel(tiny)
    args = dict(content=images, style=images[:1], steps=3, **WRAPPED)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        style_transfer(model, args.pop("content"), args.pop("style"), **args)
    assert model.calls == 0


def test_nan_mid_run_is_reported_not_hidden(tiny: nn.Module, images: torch.Tensor) -> None:
    # calls 1, 2 are the targets; 3, 4, 5 give losses[0..2]; call 6 is NaN -> losses[3]
    result = style_transfer(CountingModel(tiny, nan_after=5), images[:1], images[1:], steps=6,
                            optimizer="adam", **WRAPPED)
    assert not result.finite
    assert result.failed_step == 3


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_photos_on_the_shapes_cnn(optimizer: str) -> None:
    """Chelsea in the style of the rocket photo, 64 px. Measured on one core, 50 steps:
    L-BFGS about 16-25 ms/step with 2.0 evaluations per step, Adam about 8-12 ms/step."""
    model = zoo.load_model("shapes_cnn").eval()
    photos = zoo.load_dataset("photos", size=64)[0]
    steps = 10
    start = time.perf_counter()
    result = style_transfer(model, photos[:1], photos[2:3], optimizer=optimizer, steps=steps,
                            content_layer="net.6",
                            style_layers=["net.1", "net.3", "net.6", "net.9"])
    elapsed = (time.perf_counter() - start) / steps
    assert result.improved
    assert float(result.terms["style"][-1]) < float(result.terms["style"][0])
    assert result.evaluations >= steps
    assert elapsed < 1.0  # seconds per step: a loose guard against a runaway line search
