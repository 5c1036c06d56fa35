"""Feature inversion (Mahendran and Vedaldi 2015): it reconstructs, keeps its contract, and
deeper codes give worse reconstructions on a trained model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from generative.inversion import InversionDepth, feature_inversion, inversion_by_depth
from generative.registry import get_method
from tests.helpers import CountingModel
from zoo.guard import ModelState


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_registered() -> None:
    info = get_method("feature_inversion")
    assert info.fn is feature_inversion and info.inputs == "image"
    assert info.optimizers == ("adam", "lbfgs")


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_improves_on_the_tiny_model(optimizer: str, tiny: nn.Module,
                                    images: torch.Tensor) -> None:
    result = feature_inversion(tiny, images, "relu1", steps=15, optimizer=optimizer,
                               lr=0.05 if optimizer == "adam" else 1.0, generator=_gen())
    assert result.improved
    assert result.image.shape == images.shape
    assert float(result.image.min()) >= 0 and float(result.image.max()) <= 1
    assert set(result.terms) == {"feature", "tv", "alpha"}
    assert result.losses.shape == (16,)
    assert float(result.terms["feature"][-1]) < 0.5 * float(result.terms["feature"][0])
    assert result.settings["method"] == "feature_inversion"
    assert result.settings["layer"] == "relu1" and result.settings["optimizer"] == optimizer


def test_no_side_effects_and_inputs_unchanged(tiny: nn.Module, images: torch.Tensor) -> None:
    tiny.conv1.weight.grad = torch.ones_like(tiny.conv1.weight)
    tiny.fc.bias.requires_grad_(False)
    before, x = ModelState.capture(tiny), images.clone()
    feature_inversion(tiny, images, "relu1", steps=3, generator=_gen())
    assert before.differences(ModelState.capture(tiny)) == []
    assert torch.equal(images, x)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_no_side_effects_after_an_error_mid_run(optimizer: str, tiny: nn.Module,
                                                images: torch.Tensor) -> None:
    model = CountingModel(tiny, fail_at=3)
    tiny.conv2.weight.grad = torch.full_like(tiny.conv2.weight, 2.0)
    tiny.conv1.bias.requires_grad_(False)
    before, x = ModelState.capture(model), images.clone()
    with pytest.raises(RuntimeError, match="on purpose"):
        feature_inversion(model, images, "model.relu1", steps=5, optimizer=optimizer)
    assert before.differences(ModelState.capture(model)) == []
    assert torch.equal(images, x)


def test_training_model_warns_and_stays_training(tiny: nn.Module, images: torch.Tensor) -> None:
    tiny.train()
    with pytest.warns(RuntimeWarning, match="training mode"):
        feature_inversion(tiny, images, "conv2", steps=2)
    assert all(m.training for m in tiny.modules())


def test_same_generator_same_image_and_other_seed_differs(tiny: nn.Module,
                                                          images: torch.Tensor) -> None:
    a = feature_inversion(tiny, images, "relu2", steps=3, generator=_gen(1))
    b = feature_inversion(tiny, images, "relu2", steps=3, generator=_gen(1))
    c = feature_inversion(tiny, images, "relu2", steps=3, generator=_gen(2))
    assert torch.equal(a.image, b.image)
    assert not torch.equal(a.image, c.image)


def test_init_is_the_start(tiny: nn.Module, images: torch.Tensor) -> None:
    start = images.flip(-1).clone()
    result = feature_inversion(tiny, images, "relu1", steps=1, lr=1e-6, init=start)
    assert torch.allclose(result.image, start, atol=1e-5)
    assert torch.equal(start, images.flip(-1))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(layer="nope"), KeyError, "nope"),
    (dict(x=torch.zeros(1, 3, 0, 16)), ValueError, "x"),
    (dict(x=torch.full((1, 3, 16, 16), torch.nan)), ValueError, "NaN"),
    (dict(tv_weight=-1.0), ValueError, "tv_weight"),
    (dict(alpha_weight=-0.1), ValueError, "alpha_weight"),
    (dict(optimizer="sgd"), ValueError, "optimizer"),
    (dict(steps=0), ValueError, "steps"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(tv_beta=0.0), ValueError, "tv_beta"),
    (dict(init=torch.zeros(1, 3, 8, 8)), ValueError, "init"),
    (dict(generator=0), ValueError, "generator"),
])
def test_bad_input_fails_before_any_forward(kwargs: dict, error: type, match: str,
                                            tiny: nn.Module, images: torch.Tensor) -> None:
    model = CountingModel(tiny)
    args = dict(x=images, layer="model.relu1")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        feature_inversion(model, args.pop("x"), args.pop("layer"), steps=args.pop("steps", 3),
                          **args)
    assert model.calls == 0


def test_nan_mid_run_is_reported_not_hidden(tiny: nn.Module, images: torch.Tensor) -> None:
    # call 1 computes the target; calls 2, 3, 4 give losses[0..2]; call 5 is NaN -> losses[3]
    result = feature_inversion(CountingModel(tiny, nan_after=4), images, "model.relu1", steps=6)
    assert not result.finite
    assert result.failed_step == 3


def test_deeper_codes_keep_less_detail() -> None:
    """The lecture's point, on the trained MNIST CNN: the first ReLU's code gives back the
    digit almost exactly, the logits only its class. Measured (4 digits, 200 Adam steps,
    default weights): RMSE 0.063 (net.1), 0.097 (net.4), 0.261 (net.8), 0.304 (net.9)."""
    model = zoo.load_model("mnist_cnn").eval()
    x = zoo.load_dataset("mnist5k", "test")[0][:2]
    depths = inversion_by_depth(model, x, ["net.1", "net.4", "net.9"], steps=60,
                                generator=_gen())
    assert [d.layer for d in depths] == ["net.1", "net.4", "net.9"]
    assert all(isinstance(d, InversionDepth) and d.result.finite for d in depths)
    errors = [d.pixel_error for d in depths]
    assert errors[0] < errors[2]
    assert errors[0] < 0.15 < errors[2]
    assert all(d.feature_error < 0.2 for d in depths)


def test_inversion_by_depth_checks_layers_first(tiny: nn.Module, images: torch.Tensor) -> None:
    model = CountingModel(tiny)
    with pytest.raises(KeyError, match="nope"):
        inversion_by_depth(model, images, ["model.relu1", "nope"], steps=2)
    assert model.calls == 0
