"""White-box methods on models whose output has no autograd path to the input: every gradient
attack, attribution method and generative method names the cause (a ``NoGradientError``, a
``UserError``) instead of torch's own text, and leaves the model as it found it; forward-only
methods still run; a zero gradient is not refused."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import attacks
import attribution
import generative
import zoo
from tests.attacks.conftest import attack_kwargs, labels_for
from tests.attribution.conftest import method_kwargs
from tests.generative.conftest import TinyNet
from zoo.errors import UserError
from zoo.gradients import NOT_DIFFERENTIABLE, NoGradientError

N = 4
TORCH_TEXT = ("does not require grad", "not have been used in the graph", "grad_fn")


class Thermometer(nn.Module):
    """Each pixel encoded as the share of 8 thresholds it exceeds (Buckman et al. 2018): a
    comparison, so no autograd path from the input."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.num_classes, self.input_shape = inner.num_classes, inner.input_shape
        self.register_buffer("thresholds", (torch.arange(8) + 0.5) / 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner((x.unsqueeze(-1) > self.thresholds).to(x.dtype).mean(dim=-1))


class NoGrad(nn.Module):
    """Runs the wrapped model under ``torch.no_grad``: the output has no graph at all."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.num_classes, self.input_shape = inner.num_classes, inner.input_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.inner(x)


class Rounded(nn.Module):
    """Reads its input rounded to 4 grey levels: a graph whose gradient is zero (masked, not
    missing), which every method must still accept."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.num_classes, self.input_shape = inner.num_classes, inner.input_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.round(x * 4) / 4)


class AuxBranch(nn.Module):
    """An auxiliary head that runs on every pass and that the logits do not use."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.aux = inner, nn.Conv2d(1, 2, 3)
        self.num_classes, self.input_shape = inner.num_classes, inner.input_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.aux(x)
        return self.inner(x)


WRAPPERS = [Thermometer, NoGrad]
GRADIENT_ATTACKS = [n for n in attacks.list_attacks()
                    if attacks.get_attack(n).access == "gradients"]
# Grad-CAM differentiates with respect to a layer, not the input: behind a thermometer
# encoding its layer is still on a graph (through the weights) and it runs; see below
GRADIENT_ATTRIBUTIONS = [n for n in attribution.list_methods() if n != "occlusion"]


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Random 28x28 images (no data set to load: only the gradient's absence matters)."""
    return torch.rand(N, 1, 28, 28, generator=torch.Generator().manual_seed(0)), torch.arange(N)


def wrapped(wrapper: type[nn.Module], inner: nn.Module | None = None) -> nn.Module:
    return wrapper(inner if inner is not None else zoo.load_model("mnist_cnn")).eval()


def assert_named_cause(err: pytest.ExceptionInfo, instead: str) -> None:
    message = str(err.value)
    assert isinstance(err.value, NoGradientError) and isinstance(err.value, UserError)
    assert message.startswith(NOT_DIFFERENTIABLE) and instead in message
    assert "\n" not in message and not any(t in message for t in TORCH_TEXT)


def refuses_without_side_effects(model: nn.Module, call: Any, instead: str,
                                 *inputs: torch.Tensor) -> None:
    """``call()`` raises the named cause; the model and the inputs are as they were."""
    kept = [t.clone() for t in inputs]
    before = zoo.ModelState.capture(model)
    with pytest.raises(UserError) as err:
        call()
    assert_named_cause(err, instead)
    assert before.differences(zoo.ModelState.capture(model)) == []
    assert all(not d for m in model.modules() for d in
               (m._forward_hooks, m._forward_pre_hooks, m._backward_hooks))
    assert all(torch.equal(t, k) for t, k in zip(inputs, kept, strict=True))


def test_the_lists_cover_the_white_box_methods() -> None:
    assert {"fgsm", "pgd", "apgd", "cw", "deepfool", "fab"} <= set(GRADIENT_ATTACKS)
    assert "square" not in GRADIENT_ATTACKS
    assert {"saliency", "integrated_gradients", "grad_cam"} <= set(GRADIENT_ATTRIBUTIONS)


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("name", GRADIENT_ATTACKS)
def test_gradient_attacks_name_the_cause(wrapper, name, digits) -> None:
    x, y = digits
    model, info = wrapped(wrapper), attacks.get_attack(name)
    kwargs = attack_kwargs(info, eps=0.1, norm=info.norms[0], steps=2)
    refuses_without_side_effects(model, lambda: info(model, x, labels_for(info, y), **kwargs),
                                 "square", x, y)


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("name", GRADIENT_ATTRIBUTIONS)
def test_gradient_attributions_name_the_cause(wrapper, name, digits) -> None:
    x, y = digits
    model = wrapped(wrapper)
    kwargs = method_kwargs(name)
    if "layer" in kwargs:
        kwargs["layer"] = "inner." + kwargs["layer"]
    method = attribution.get_method(name)
    if wrapper is Thermometer and name == "grad_cam":
        assert method(model, x, y, **kwargs).abs().sum() > 0
        return
    refuses_without_side_effects(model, lambda: method(model, x, y, **kwargs), "occlusion", x)


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("name", generative.list_methods())
def test_generative_methods_name_the_cause(wrapper, name) -> None:
    # regularisers (total variation, L2) alone still give the image a gradient: the
    # model's own term is what must have one
    model, info = wrapped(wrapper, TinyNet()), generative.get_method(name)
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    kwargs: dict[str, Any] = {"steps": 2, "generator": torch.Generator().manual_seed(0)}
    calls = {
        "class": lambda: info(model, [0, 2], **kwargs),
        "unit": lambda: info(model, "inner.conv2", [1, 3], **kwargs),
        "image": lambda: info(model, images, "inner.relu1", **kwargs,
                              **({"octaves": 1} if name == "deep_dream" else {})),
        "pair": lambda: info(model, images[:1], images[1:], content_layer="inner.relu2",
                             style_layers=["inner.relu1"], **kwargs),
    }
    refuses_without_side_effects(model, calls[info.inputs], "gradient", images)


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_forward_only_methods_still_run(wrapper, digits) -> None:
    x, y = digits
    model = wrapped(wrapper)
    heat = attribution.get_method("occlusion")(model, x, y, **method_kwargs("occlusion"))
    assert heat.shape == x.shape and torch.isfinite(heat).all()
    square = attacks.get_attack("square")
    x_adv = square(model, x, y, **attack_kwargs(square, eps=0.1, steps=5))
    assert x_adv.shape == x.shape and float((x_adv - x).abs().max()) <= 0.1 + 1e-6


def test_zero_gradients_are_not_refused(digits) -> None:
    x, y = digits
    model = wrapped(Rounded)
    assert torch.equal(attribution.get_method("saliency")(model, x, y), torch.zeros_like(x))
    x_adv = attacks.get_attack("fgsm")(model, x, y, eps=0.1)
    assert torch.equal(x_adv, x)  # sign(0) = 0: no step, and no error


def test_grad_cam_on_a_layer_off_the_path_names_the_layer(digits) -> None:
    x, y = digits
    model = wrapped(AuxBranch)
    before = zoo.ModelState.capture(model)
    with pytest.raises(NoGradientError, match="layer 'aux' does not feed the model's output: "
                                              "pick a layer on the path to the logits"):
        attribution.get_method("grad_cam")(model, x, y, layer="aux")
    assert before.differences(zoo.ModelState.capture(model)) == []
    # and a layer on the path of the same model works
    cam = attribution.get_method("grad_cam")(model, x, y, layer="inner.net.3")
    assert cam.shape == (N, 1, 14, 14)
