"""DeepDream (Mordvintsev et al. 2015): each octave raises the layer's activations, octaves
go from small to full size, and the method keeps its contract."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from generative.deep_dream import deep_dream, octave_sizes
from generative.registry import get_method
from tests.helpers import CountingModel
from zoo.guard import ModelState


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_registered() -> None:
    info = get_method("deep_dream")
    assert info.fn is deep_dream and info.inputs == "image" and info.optimizers == ("sgd",)


def test_one_octave_improves(tiny: nn.Module, images: torch.Tensor) -> None:
    result = deep_dream(tiny, images, "relu2", steps=5, octaves=1, generator=_gen())
    assert result.improved
    assert result.losses.shape == (6,) and result.evaluations == 5
    assert result.image.shape == images.shape
    assert result.settings["octave_sizes"] == [(16, 16)]


def test_each_octave_improves_and_sizes_grow(tiny: nn.Module, images: torch.Tensor) -> None:
    x = torch.nn.functional.interpolate(images, size=(32, 32), mode="bilinear")
    result = deep_dream(tiny, x, "relu1", steps=4, octaves=3, octave_scale=1.5,
                        generator=_gen())
    assert result.settings["octave_sizes"] == [(14, 14), (21, 21), (32, 32)]
    per_octave = result.losses.view(3, 5)
    assert (per_octave[:, -1] < per_octave[:, 0]).all()
    assert result.terms["activation"].shape == (15,)
    assert result.image.shape == x.shape and result.finite
    assert float(result.image.min()) >= 0 and float(result.image.max()) <= 1


def test_octave_sizes() -> None:
    assert octave_sizes((64, 48), 1, 1.4) == [(64, 48)]
    assert octave_sizes((64, 64), 3, 2.0) == [(16, 16), (32, 32), (64, 64)]
    with pytest.raises(ValueError, match="under 8 px"):
        octave_sizes((16, 16), 3, 2.0)


def test_no_side_effects_and_input_unchanged(tiny: nn.Module, images: torch.Tensor) -> None:
    tiny.conv1.weight.grad = torch.ones_like(tiny.conv1.weight)
    tiny.fc.weight.requires_grad_(False)
    before, x = ModelState.capture(tiny), images.clone()
    deep_dream(tiny, images, "relu1", steps=2, octaves=2, generator=_gen())
    assert before.differences(ModelState.capture(tiny)) == []
    assert torch.equal(images, x)


def test_no_side_effects_after_an_error_mid_run(tiny: nn.Module, images: torch.Tensor) -> None:
    model = CountingModel(tiny, fail_at=5)
    tiny.conv2.bias.grad = torch.ones_like(tiny.conv2.bias)
    tiny.conv1.weight.requires_grad_(False)
    before, x = ModelState.capture(model), images.clone()
    with pytest.raises(RuntimeError, match="on purpose"):
        deep_dream(model, images, "model.relu1", steps=3, octaves=2)  # fails in octave 2
    assert before.differences(ModelState.capture(model)) == []
    assert torch.equal(images, x)


def test_training_model_warns_and_stays_training(tiny: nn.Module, images: torch.Tensor) -> None:
    tiny.train()
    with pytest.warns(RuntimeWarning, match="training mode"):
        deep_dream(tiny, images, "relu1", steps=1, octaves=1)
    assert all(m.training for m in tiny.modules())


def test_jitter_follows_the_generator(tiny: nn.Module, images: torch.Tensor) -> None:
    a = deep_dream(tiny, images, "relu2", steps=3, octaves=2, jitter=3, generator=_gen(1))
    b = deep_dream(tiny, images, "relu2", steps=3, octaves=2, jitter=3, generator=_gen(1))
    c = deep_dream(tiny, images, "relu2", steps=3, octaves=2, jitter=3, generator=_gen(2))
    assert torch.equal(a.image, b.image)
    assert not torch.equal(a.image, c.image)
    still = deep_dream(tiny, images, "relu2", steps=3, octaves=1, jitter=0, generator=_gen(1))
    again = deep_dream(tiny, images, "relu2", steps=3, octaves=1, jitter=0, generator=_gen(2))
    assert torch.equal(still.image, again.image)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(layer="nope"), KeyError, "nope"),
    (dict(x=torch.zeros(1, 3, 0, 16)), ValueError, "x"),
    (dict(x=torch.full((1, 3, 16, 16), torch.nan)), ValueError, "NaN"),
    (dict(octaves=4), ValueError, "under 8 px"),
    (dict(octaves=0), ValueError, "octaves"),
    (dict(octave_scale=0.5), ValueError, "octave_scale"),
    (dict(jitter=-1), ValueError, "jitter"),
    (dict(optimizer="adam"), ValueError, "optimizer"),
    (dict(steps=0), ValueError, "steps"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(generator="seed"), ValueError, "generator"),
])
def test_bad_input_fails_before_any_forward(kwargs: dict, error: type, match: str,
                                            tiny: nn.Module, images: torch.Tensor) -> None:
    model = CountingModel(tiny)
    args = dict(x=images, layer="model.relu1")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        deep_dream(model, args.pop("x"), args.pop("layer"), **args)
    assert model.calls == 0


def test_nan_mid_run_is_reported_not_hidden(tiny: nn.Module, images: torch.Tensor) -> None:
    # calls 1, 2, 3 give losses[0..2]; call 4 is NaN -> losses[3]
    result = deep_dream(CountingModel(tiny, nan_after=3), images, "model.relu1", steps=5, octaves=1)
    assert not result.finite
    assert result.failed_step == 3
