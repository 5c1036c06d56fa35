from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from zoo import (
    Classifier,
    HookSet,
    ModelState,
    Normalize,
    find_modules,
    frozen_parameters,
    get_layer,
    num_classes,
    warn_if_training,
)
from zoo.errors import UserError
from zoo.guard import check_dtype


def tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(8, 3))


def test_normalize_matches_formula_and_follows_dtype() -> None:
    norm = Normalize((0.5, 0.25), (0.5, 2.0))
    x = torch.rand(2, 2, 3, 3)
    expected = torch.stack([(x[:, 0] - 0.5) / 0.5, (x[:, 1] - 0.25) / 2.0], dim=1)
    torch.testing.assert_close(norm(x), expected)
    assert norm.double()(x.double()).dtype == torch.float64
    with pytest.raises(ValueError, match="positive std"):
        Normalize((0.0,), (0.0,))


def test_classifier_is_normalize_then_net() -> None:
    net = tiny()
    model = Classifier(net, mean=(0.5,), std=(0.5,), num_classes=3, input_shape=(1, 4, 4),
                       name="tiny")
    x = torch.rand(2, 1, 4, 4)
    torch.testing.assert_close(model(x), net((x - 0.5) / 0.5))
    assert num_classes(model) == 3 and model.class_names == ["0", "1", "2"]


def test_warn_if_training_warns_and_never_switches() -> None:
    model = tiny()
    with pytest.warns(RuntimeWarning, match="training mode"):
        warn_if_training(model, "saliency")
    assert model.training
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_training(model)


def test_frozen_parameters_restores_flags_even_on_error() -> None:
    model = tiny()
    model[0].weight.requires_grad_(False)
    before = [p.requires_grad for p in model.parameters()]
    with pytest.raises(RuntimeError, match="boom"), frozen_parameters(model):
        assert not any(p.requires_grad for p in model.parameters())
        raise RuntimeError("boom")
    assert [p.requires_grad for p in model.parameters()] == before


def test_hookset_removes_hooks_on_success_and_error() -> None:
    model = tiny()
    seen: list[torch.Size] = []
    before = ModelState.capture(model)
    with HookSet() as hooks:
        for _, relu in find_modules(model, nn.ReLU):
            hooks.forward(relu, lambda m, i, o: seen.append(o.shape))
        # full backward hooks cannot sit on an inplace ReLU (PyTorch forbids it), so on the fc
        hooks.full_backward(model[3], lambda m, gi, go: None)
        model(torch.rand(1, 1, 4, 4))
    assert seen == [torch.Size([1, 2, 2, 2])]
    with pytest.raises(ValueError, match="inside"), HookSet() as hooks:
        hooks.forward_pre(model[0], lambda m, i: None)
        raise ValueError("inside")
    assert ModelState.capture(model).differences(before) == []


def test_model_state_detects_each_kind_of_change() -> None:
    model = tiny().eval()
    base = ModelState.capture(model)
    assert base.differences(ModelState.capture(model)) == []
    model[3].train()
    assert "training" in ModelState.capture(model).differences(base)
    model.eval()
    model[0].weight.requires_grad_(False)
    assert "requires_grad" in ModelState.capture(model).differences(base)
    model[0].weight.requires_grad_(True)
    model(torch.rand(1, 1, 4, 4)).sum().backward()
    assert "grads" in ModelState.capture(model).differences(base)
    model.zero_grad(set_to_none=True)
    handle = model[1].register_forward_hook(lambda m, i, o: None)
    assert "hooks" in ModelState.capture(model).differences(base)
    handle.remove()
    with torch.no_grad():
        model[3].bias.add_(1.0)
    assert "parameters or buffers" in ModelState.capture(model).differences(base)


def test_get_layer_names_valid_layers() -> None:
    model = tiny()
    assert get_layer(model, "3") is model[3]
    with pytest.raises(KeyError, match="'fc'.*0, 1, 2, 3"):
        get_layer(model, "fc")


def test_check_dtype_refuses_images_of_another_dtype_than_the_model() -> None:
    model, x = tiny(), torch.rand(2, 1, 4, 4)
    check_dtype(model, x)  # same dtype: nothing to say
    check_dtype(nn.ReLU(), x.double())  # no parameters: any floating dtype
    check_dtype(model, (x * 255).to(torch.uint8))  # not floating: check_images' business
    with pytest.raises(UserError, match=r"^x has dtype torch.float64 but the model's parameters "
                       r"are torch.float32: convert the images with x.float\(\) or the model "
                       r"with model.double\(\)$"):
        check_dtype(model, x.double())
    with pytest.raises(UserError, match=r"content has dtype torch.bfloat16 .* content.float\(\) "
                       r".* model.bfloat16\(\)"):
        check_dtype(model, x.bfloat16(), "content")
    with pytest.raises(UserError, match=r"\[0, 1\]"):  # the range is named first, as before
        check_dtype(model, x.double() * 2)
    with pytest.raises(UserError, match=r"x.double\(\) or the model with model.float\(\)"):
        check_dtype(tiny().double(), x)


@pytest.mark.parametrize("name", ["fgsm", "pgd", "saliency", "integrated_gradients"])
def test_a_float64_model_takes_float64_images(name: str) -> None:
    import attacks
    import attribution

    x, y = torch.rand(3, 1, 5, 5, dtype=torch.float64), torch.tensor([0, 1, 2])
    model = Classifier(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(),
                                     nn.Linear(18, 3)), mean=(0.5,), std=(0.5,), num_classes=3,
                       input_shape=(1, 5, 5), name="tiny").double().eval()
    if name in attacks.list_attacks():
        out = attacks.get_attack(name)(model, x, y, eps=0.1, **(
            {"alpha": 0.05, "steps": 2} if name == "pgd" else {}))
    else:
        out = attribution.get_method(name)(model, x, y, **(
            {"steps": 4} if name == "integrated_gradients" else {}))
        assert out.abs().sum() > 0
    assert out.dtype == torch.float64 and out.shape == x.shape
    with pytest.raises(UserError, match="x has dtype torch.float32"):  # and the other way
        (attacks.get_attack(name) if name in attacks.list_attacks()
         else attribution.get_method(name))(model, x.float(), y, eps=0.1)
