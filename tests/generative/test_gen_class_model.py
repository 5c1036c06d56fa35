"""class_model (Simonyan et al. 2014): it raises the target's score, makes images a trained
MNIST CNN reads as their digit, keeps the no-side-effects contract, repeats under a seed,
and rejects bad input before any forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from generative.class_model import class_model
from generative.registry import get_method
from generative.regularisers import Jitter
from tests.helpers import CountingModel
from zoo.guard import ModelState
from zoo.models import load_model


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_improves_objective_on_tiny(tiny: nn.Module, optimizer: str) -> None:
    result = class_model(tiny, [0, 1, 2, 3], steps=8, optimizer=optimizer)
    assert result.improved and result.losses[-1] < result.losses[0]
    assert result.image.shape == (4, 3, 16, 16)
    assert float(result.image.min()) >= 0 and float(result.image.max()) <= 1
    assert result.losses.shape == (9,) and result.evaluations == 8
    torch.testing.assert_close(result.terms["score"] + result.terms["l2"], result.losses)
    with torch.no_grad():
        before, after = tiny(torch.full((1, 3, 16, 16), 0.5)), tiny(result.image)
    assert bool((after.diagonal() > before[0]).all())  # every target's own logit went up


def test_settings_and_registry(tiny: nn.Module) -> None:
    result = class_model(tiny, torch.tensor([2, 0]), steps=2, lr=0.1, l2=0.0,
                         regularisers=[Jitter(1)], noise=0.05)
    assert result.settings == dict(method="class_model", targets=[2, 0], steps=2, lr=0.1,
                                   l2=0.0, optimizer="adam", shape=(3, 16, 16), noise=0.05,
                                   regularisers=["Jitter(pixels=1)"])
    info = get_method("class_model")
    assert info.fn is class_model and info.inputs == "class"
    assert info.optimizers == ("adam", "sgd")


def test_sgd_step_is_lr_in_pixel_units(tiny: nn.Module) -> None:
    # tiny's neutral image (0.4, 0.5, 0.6) is far from the bounds: nothing is clamped
    result = class_model(tiny, [0, 3], steps=1, lr=0.01, l2=0.0, noise=0.0, optimizer="sgd")
    start = torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1)
    rms = (result.image - start).pow(2).mean(dim=(1, 2, 3)).sqrt()
    torch.testing.assert_close(rms, torch.full((2,), 0.01))


def test_mnist_class_models_are_read_as_their_digit() -> None:
    model = load_model("mnist_cnn").eval()
    result = class_model(model, list(range(10)), steps=60)
    with torch.no_grad():
        probs = model(result.image).softmax(dim=1)  # (10, 10)
    assert probs.argmax(dim=1).tolist() == list(range(10))
    assert float(probs.diagonal().min()) > 0.99  # measured: >= 0.9999 for every digit
    assert result.improved


def test_init_is_used_broadcast_and_left_unchanged(tiny: nn.Module) -> None:
    init = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    kept = init.clone()
    result = class_model(tiny, [0, 1, 2], steps=1, lr=1e-3, init=init)
    assert torch.equal(init, kept)
    assert result.image.shape == (3, 3, 16, 16)
    assert float((result.image - init).abs().max()) < 0.02  # one small step from init


def test_no_side_effects_on_success_and_error(tiny: nn.Module) -> None:
    tiny.fc.weight.grad = torch.ones_like(tiny.fc.weight)
    tiny.conv1.bias.requires_grad_(False)
    before = ModelState.capture(tiny)
    class_model(tiny, [1, 2], steps=3, regularisers=[Jitter(1)],
                generator=torch.Generator().manual_seed(0), noise=0.1)
    assert before.differences(ModelState.capture(tiny)) == []

    failing = CountingModel(tiny, fail_at=3)
    before = ModelState.capture(failing)
    with pytest.raises(RuntimeError, match="on purpose"):
        class_model(failing, [1, 2], steps=5)
    assert failing.calls == 3
    assert before.differences(ModelState.capture(failing)) == []
    assert tiny.conv1.bias.requires_grad is False and tiny.fc.weight.requires_grad is True


def test_seeded_runs_repeat_exactly(tiny: nn.Module) -> None:
    def run(seed: int) -> torch.Tensor:
        return class_model(tiny, [0, 1], steps=5, noise=0.2, regularisers=[Jitter(2)],
                           generator=torch.Generator().manual_seed(seed)).image

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_training_model_warns_and_stays_training(tiny: nn.Module) -> None:
    tiny.train()
    with pytest.warns(RuntimeWarning, match="training mode"):
        class_model(tiny, 0, steps=2)
    assert all(m.training for m in tiny.modules())


@pytest.mark.parametrize("kwargs, match", [
    (dict(target=4), "target"),
    (dict(target=-1), "target"),
    (dict(target=True), "target"),
    (dict(target=[0, 1.5]), "target"),
    (dict(target=[]), "target"),
    (dict(shape=(3, 0, 16)), "zero-size"),
    (dict(shape=(3, 16)), "shape"),
    (dict(l2=-1e-3), "l2"),
    (dict(lr=0.0), "lr"),
    (dict(lr=float("nan")), "lr"),
    (dict(steps=0), "steps"),
    (dict(noise=-0.1), "noise"),
    (dict(optimizer="lbfgs"), "optimizer"),
    (dict(optimizer="sgdd"), "optimizer"),
    (dict(regularisers=["blur"]), "regulariser"),
    (dict(init=torch.full((2, 3, 16, 16), 2.0)), "init"),
    (dict(init=torch.rand(2, 3, 16, 16)), "init"),  # 2 images for 3 targets
    (dict(init=torch.rand(1, 3, 8, 8), shape=(3, 16, 16)), "init"),
    (dict(generator="seed"), "generator"),
])
def test_bad_input_raises_before_any_forward(tiny: nn.Module, kwargs: dict, match: str) -> None:
    model = CountingModel(tiny)
    kwargs = {"target": [0, 1, 2], **kwargs}
    target = kwargs.pop("target")
    with pytest.raises(ValueError, match=match):
        class_model(model, target, steps=kwargs.pop("steps", 3), **kwargs)
    assert model.calls == 0


def test_model_must_be_a_module() -> None:
    with pytest.raises(ValueError, match="model"):
        class_model(lambda x: x, 0)


def test_shapes_class_models_rise_from_the_first_steps_and_are_read_as_their_shape() -> None:
    # shapes_cnn's units are all off at its mean image: the default noise and Adam are what
    # make this work (normalised steps of 0.05 fall for the first steps of two classes)
    model = load_model("shapes_cnn").eval()
    for c in range(4):
        assert class_model(model, [c], steps=5, generator=torch.Generator().manual_seed(0)).improved
    result = class_model(model, [0, 1, 2, 3], steps=100,
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        probs = model(result.image).softmax(dim=1)
    assert probs.argmax(dim=1).tolist() == [0, 1, 2, 3]
