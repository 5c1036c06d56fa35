"""The contract, for every registered method (new methods are covered by registering them):
shape, detached output, nothing the method was given changes (also when the forward pass
raises mid-call), hooks gone, the generator decides the randomness, training mode warns."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import attribution
import zoo

METHODS = attribution.list_methods()


def run(kit, name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
        seed: int = 0) -> torch.Tensor:
    return attribution.get_method(name)(model, x, y, **kit.method_kwargs(name, seed=seed))


def test_every_method_is_registered_with_a_paper_and_test_kwargs(kit) -> None:
    assert {"saliency", "guided_backprop", "deconvnet", "occlusion", "smoothgrad",
            "integrated_gradients", "grad_cam"} <= set(METHODS)
    for name in METHODS:
        assert attribution.get_method(name).paper
        kit.method_kwargs(name)


def test_registry_refuses_duplicates_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        attribution.register("saliency", paper="x")(lambda *a: None)
    with pytest.raises(KeyError, match="unknown attribution method"):
        attribution.get_method("lrp")


@pytest.mark.parametrize("name", METHODS)
def test_shape_dtype_and_detached(kit, cnn, mnist, name) -> None:
    x, y = mnist
    out = run(kit, name, cnn, x, y)
    if attribution.get_method(name).output == "layer":
        assert out.shape == (x.shape[0], 1, 14, 14)  # mnist_cnn's net.3 is 64 x 14 x 14
    else:
        assert out.shape == x.shape
    assert out.dtype == x.dtype and torch.isfinite(out).all()
    assert not out.requires_grad and out.grad_fn is None
    assert out.abs().sum() > 0


@pytest.mark.parametrize("name", METHODS)
def test_no_side_effects(kit, cnn, mnist, name) -> None:
    x, y = mnist
    x0, y0 = x.clone(), y.clone()
    before = zoo.ModelState.capture(cnn)
    run(kit, name, cnn, x, y)
    assert torch.equal(x, x0) and torch.equal(y, y0)
    assert not x.requires_grad and x.grad is None
    assert before.differences(zoo.ModelState.capture(cnn)) == []


def forward_calls(kit, name: str, x: torch.Tensor, y: torch.Tensor) -> int:
    model, calls = zoo.load_model("mnist_cnn"), []
    model.register_forward_pre_hook(lambda m, i: calls.append(1))  # a throw-away model
    run(kit, name, model, x, y)
    return len(calls)


@pytest.mark.parametrize("name", METHODS)
def test_no_side_effects_when_forward_raises_mid_call(kit, mnist, name) -> None:
    x, y = mnist
    model = zoo.load_model("mnist_cnn")
    model.net[0].weight.grad = torch.ones_like(model.net[0].weight)  # a grad to preserve
    model.net[1].register_forward_hook(lambda m, i, o: None)  # a user hook on a ReLU to keep
    # raise inside the network, after the first ReLU (hooked by the ReLU-rule methods) has
    # run: on the second forward pass, or the only one
    fail_at = min(2, forward_calls(kit, name, x, y))
    calls = []

    def explode(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        calls.append(1)
        if len(calls) == fail_at:
            raise RuntimeError("forward failed on purpose")

    model.net[5].register_forward_hook(explode)
    before = zoo.ModelState.capture(model)
    with pytest.raises(RuntimeError, match="on purpose"):
        run(kit, name, model, x, y)
    assert before.differences(zoo.ModelState.capture(model)) == []
    assert len(model.net[1]._forward_hooks) == 1 and len(model.net[5]._forward_hooks) == 1
    assert all(not m._forward_pre_hooks for m in model.modules())
    # and the model still works as before
    torch.testing.assert_close(run(kit, name, zoo.load_model("mnist_cnn"), x, y),
                               run(kit, name, model, x, y), rtol=0, atol=0)


@pytest.mark.parametrize("name", METHODS)
def test_hooks_gone_after_success_on_resnet(kit, resnet18, photos, name) -> None:
    x, y = photos
    before = zoo.ModelState.capture(resnet18)
    kwargs = kit.method_kwargs(name, "resnet18")
    if name == "occlusion":
        kwargs.update(window=32, stride=32)
    attribution.get_method(name)(resnet18, x, y, **kwargs)
    assert before.differences(zoo.ModelState.capture(resnet18)) == []


@pytest.mark.parametrize("name", METHODS)
def test_same_generator_seed_same_output(kit, cnn, mnist, name) -> None:
    x, y = mnist
    a = run(kit, name, cnn, x, y, seed=7)
    b = run(kit, name, cnn, x, y, seed=7)
    assert torch.equal(a, b)
    if attribution.get_method(name).random:
        # and the generator is really used: another seed, other noise; the global RNG is not
        state = torch.get_rng_state()
        assert not torch.equal(a, run(kit, name, cnn, x, y, seed=8))
        assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("name", METHODS)
def test_training_mode_warns_and_is_not_switched(kit, mnist, name) -> None:
    x, y = mnist
    model = zoo.load_model("mnist_cnn").train()
    with pytest.warns(RuntimeWarning, match="training mode"):
        run(kit, name, model, x, y)
    assert all(m.training for m in model.modules())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning at all in eval mode
        run(kit, name, model.eval(), x, y)
    assert not any(m.training for m in model.modules())


def test_smoothgrad_with_zero_noise_is_saliency(cnn, mnist) -> None:
    x, y = mnist
    out = attribution.smoothgrad(cnn, x, y, samples=3, sigma=0.0)
    # three equal gradients summed and divided by 3
    torch.testing.assert_close(out, attribution.saliency(cnn, x, y), rtol=1e-6, atol=1e-7)
