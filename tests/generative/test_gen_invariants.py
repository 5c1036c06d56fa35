"""Invariants every registered generative method keeps, parametrised over the registry so a
method added later is covered without a new test."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from generative import GenResult, get_method, list_methods
from tests.helpers import CountingModel
from zoo.guard import ModelState

METHODS = list_methods()



def call(name: str, model: nn.Module, images: torch.Tensor, prefix: str = "",
         **kwargs: Any) -> GenResult:
    """Each input kind's positional arguments on the tiny model (layers of TinyNet)."""
    info = get_method(name)
    kwargs.setdefault("steps", 3)
    if info.inputs == "class":
        return info(model, [0, 2], **kwargs)
    if info.inputs == "unit":
        return info(model, f"{prefix}conv2", [1, 3], **kwargs)
    if info.inputs == "image":
        if name == "deep_dream":
            kwargs.setdefault("octaves", 1)
        return info(model, images, f"{prefix}relu1", **kwargs)
    return info(model, images[:1], images[1:], content_layer=f"{prefix}relu2",
                style_layers=[f"{prefix}relu1", f"{prefix}relu2"], **kwargs)


def test_registry_holds_the_lectures_methods() -> None:
    assert set(METHODS) >= {"class_model", "neuron_visualisation", "feature_inversion",
                            "deep_dream", "style_transfer"}
    with pytest.raises(KeyError, match="unknown generative method"):
        get_method("nope")


@pytest.mark.parametrize("name", METHODS)
def test_result_is_a_finite_image_in_range_with_a_trace(name: str, tiny: nn.Module,
                                                        images: torch.Tensor) -> None:
    result = call(name, tiny, images, generator=torch.Generator().manual_seed(0))
    assert result.image.dim() == 4 and not result.image.requires_grad
    assert float(result.image.min()) >= 0.0 and float(result.image.max()) <= 1.0
    assert result.finite and result.failed_step is None
    assert result.losses.dtype == torch.float64 and len(result.losses) >= 4
    total = torch.stack(list(result.terms.values())).sum(dim=0)
    torch.testing.assert_close(total, result.losses)
    assert result.settings["steps"] == 3 and result.evaluations >= 3


@pytest.mark.parametrize("name", METHODS)
def test_no_side_effects_after_success(name: str, tiny: nn.Module,
                                       images: torch.Tensor) -> None:
    tiny.conv1.weight.grad = torch.ones_like(tiny.conv1.weight)
    tiny.fc.bias.requires_grad_(False)
    before, kept = ModelState.capture(tiny), images.clone()
    call(name, tiny, images, generator=torch.Generator().manual_seed(0))
    assert before.differences(ModelState.capture(tiny)) == []
    assert torch.equal(images, kept)


@pytest.mark.parametrize("name", METHODS)
def test_no_side_effects_after_an_error_mid_run(name: str, tiny: nn.Module,
                                                images: torch.Tensor) -> None:
    model = CountingModel(tiny, fail_at=3).eval()
    tiny.conv2.weight.grad = torch.full_like(tiny.conv2.weight, 2.0)
    before = ModelState.capture(model)
    with pytest.raises(RuntimeError, match="on purpose"):
        call(name, model, images, prefix="model.", generator=torch.Generator().manual_seed(0))
    assert model.calls == 3
    assert before.differences(ModelState.capture(model)) == []


@pytest.mark.parametrize("name", METHODS)
def test_same_generator_same_image(name: str, tiny: nn.Module, images: torch.Tensor) -> None:
    a = call(name, tiny, images, generator=torch.Generator().manual_seed(5))
    b = call(name, tiny, images, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.image, b.image) and torch.equal(a.losses, b.losses)


@pytest.mark.parametrize("name", METHODS)
def test_training_model_warns_and_stays_in_training(name: str, tiny: nn.Module,
                                                    images: torch.Tensor) -> None:
    tiny.train()
    with pytest.warns(RuntimeWarning, match="training mode"):
        call(name, tiny, images, generator=torch.Generator().manual_seed(0))
    assert all(m.training for m in tiny.modules())


@pytest.mark.parametrize("name", METHODS)
def test_not_a_module_is_refused(name: str, images: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="model must be a torch.nn.Module"):
        call(name, lambda x: x, images)  # type: ignore[arg-type]
