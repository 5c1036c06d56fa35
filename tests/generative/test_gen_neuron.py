"""neuron_visualisation (Yosinski et al. 2015): it raises the chosen channel, unit or Linear
feature (measured here with a hook of the test's own), keeps the no-side-effects contract,
repeats under a seed, and rejects bad input early (the channel and position checks need the
one probe forward the docstring names)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from generative.neuron import neuron_visualisation
from generative.registry import get_method
from generative.regularisers import GaussianBlur, Jitter
from tests.helpers import CountingModel
from zoo.guard import ModelState
from zoo.models import load_model


def activation(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The layer's output on ``x``, recorded by a hook of the test's own (cloned: an in-place
    ReLU may follow)."""
    seen = []
    handle = dict(model.named_modules())[layer].register_forward_hook(
        lambda m, i, o: seen.append(o.detach().clone()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return seen[0]


def start(noise: float = 0.1, n: int = 1, seed: int = 0) -> torch.Tensor:
    """The start neuron_visualisation draws for tiny from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1)
    return (centre + noise * torch.randn(n, 3, 16, 16, generator=g)).clamp(0, 1)


@pytest.mark.parametrize("layer", ["conv1", "conv2", "relu2"])
def test_raises_channel_mean(tiny: nn.Module, layer: str) -> None:
    channels = [0, 3, 5]
    result = neuron_visualisation(tiny, layer, channels, steps=15,
                                  generator=torch.Generator().manual_seed(0))
    assert result.improved and result.image.shape == (3, 3, 16, 16)
    rows = torch.arange(3)
    before = activation(tiny, layer, start(n=3))[rows, channels].mean(dim=(1, 2))
    after = activation(tiny, layer, result.image)[rows, channels].mean(dim=(1, 2))
    assert bool((after > before + 0.1).all()), (before, after)
    torch.testing.assert_close(-after.sum().double(), result.terms["activation"][-1],
                               rtol=1e-4, atol=1e-4)


def test_raises_unit_at_position(tiny: nn.Module) -> None:
    result = neuron_visualisation(tiny, "conv2", 2, position=(3, 12), steps=15,
                                  generator=torch.Generator().manual_seed(0))
    before = activation(tiny, "conv2", start())[0, 2, 3, 12]
    after = activation(tiny, "conv2", result.image)[0, 2, 3, 12]
    assert float(after) > float(before) + 0.5
    assert result.settings["position"] == (3, 12)


def test_raises_linear_feature(tiny: nn.Module) -> None:
    result = neuron_visualisation(tiny, "fc", [1, 2], steps=15, optimizer="adam",
                                  generator=torch.Generator().manual_seed(0))
    before = activation(tiny, "fc", start(n=2)).diagonal(offset=1)  # rows 0,1 -> features 1,2
    after = activation(tiny, "fc", result.image).diagonal(offset=1)
    assert bool((after > before + 0.5).all()), (before, after)


def test_mnist_channel_and_settings() -> None:
    model = load_model("mnist_cnn").eval()
    result = neuron_visualisation(model, "net.3", [0, 7], steps=20,
                                  regularisers=[GaussianBlur(0.5, every=4)],
                                  generator=torch.Generator().manual_seed(0))
    assert result.improved and result.image.shape == (2, 1, 28, 28)
    assert result.settings["layer"] == "net.3" and result.settings["channels"] == [0, 7]
    assert result.settings["method"] == "neuron_visualisation"
    assert get_method("neuron_visualisation").inputs == "unit"


def test_no_side_effects_on_success_and_error(tiny: nn.Module) -> None:
    tiny.conv2.weight.grad = torch.full_like(tiny.conv2.weight, 0.5)
    tiny.fc.bias.requires_grad_(False)
    before = ModelState.capture(tiny)
    init = start(n=2)
    kept = init.clone()
    neuron_visualisation(tiny, "conv1", [0, 1], steps=3, init=init, regularisers=[Jitter(1)])
    assert torch.equal(init, kept)
    assert before.differences(ModelState.capture(tiny)) == []

    failing = CountingModel(tiny, fail_at=3)  # the probe, step 0, then step 1 fails
    before = ModelState.capture(failing)
    with pytest.raises(RuntimeError, match="on purpose"):
        neuron_visualisation(failing, "model.conv1", 0, steps=5)
    assert failing.calls == 3
    assert before.differences(ModelState.capture(failing)) == []  # hooks gone too


def test_seeded_runs_repeat_exactly(tiny: nn.Module) -> None:
    def run(seed: int) -> torch.Tensor:
        return neuron_visualisation(tiny, "conv2", 1, steps=4, regularisers=[Jitter(2)],
                                    generator=torch.Generator().manual_seed(seed)).image

    assert torch.equal(run(5), run(5))
    assert not torch.equal(run(5), run(6))


def test_training_model_warns_and_stays_training(tiny: nn.Module) -> None:
    tiny.train()
    with pytest.warns(RuntimeWarning, match="training mode"):
        neuron_visualisation(tiny, "conv1", 0, steps=2)
    assert all(m.training for m in tiny.modules())


@pytest.mark.parametrize("layer, channel, kwargs, match", [
    ("model.conv1", -1, {}, "channel"),
    ("model.conv1", [], {}, "channel"),
    ("model.conv1", 0, dict(position=(1,)), "position"),
    ("model.conv1", 0, dict(position=(-1, 0)), "position"),
    ("model.conv1", 0, dict(shape=(3, 0, 16)), "zero-size"),
    ("model.conv1", 0, dict(l2=-1.0), "l2"),
    ("model.conv1", 0, dict(optimizer="lbfgs"), "optimizer"),
    ("model.conv1", 0, dict(regularisers=[None]), "regulariser"),
])
def test_bad_input_raises_before_any_forward(tiny: nn.Module, layer: str, channel: object,
                                             kwargs: dict, match: str) -> None:
    model = CountingModel(tiny)
    with pytest.raises(ValueError, match=match):
        neuron_visualisation(model, layer, channel, steps=3, **kwargs)
    assert model.calls == 0


def test_unknown_layer_is_a_key_error(tiny: nn.Module) -> None:
    model = CountingModel(tiny)
    with pytest.raises(KeyError, match="conv9"):
        neuron_visualisation(model, "model.conv9", 0)
    assert model.calls == 0


@pytest.mark.parametrize("layer, channel, position, match", [
    ("model.conv1", 6, None, "channel 6"),  # conv1 has 6 channels
    ("model.fc", 4, None, "channel 4"),
    ("model.conv2", 0, (0, 16), "position"),  # the map is 16x16
    ("model.fc", 0, (0, 0), "position"),  # a Linear output has no positions
])
def test_unit_checks_need_only_the_probe_forward(tiny: nn.Module, layer: str, channel: int,
                                                 position: tuple | None, match: str) -> None:
    model = CountingModel(tiny)
    before = ModelState.capture(model)
    with pytest.raises(ValueError, match=match):
        neuron_visualisation(model, layer, channel, position=position, steps=3)
    assert model.calls == 1
    assert before.differences(ModelState.capture(model)) == []


def test_layer_that_never_runs_is_an_error(tiny: nn.Module) -> None:
    model = CountingModel(tiny)
    model.spare = nn.Conv2d(3, 3, 1).eval()  # registered but never called by forward
    with pytest.raises(ValueError, match="did not run"):
        neuron_visualisation(model, "spare", 0, steps=3)
    assert model.calls == 1
