"""Agreement with Captum (``attribution.reference``), element by element, on the hand-weighted
tiny CNN, the shipped MNIST models, and torchvision ResNet-18 (in-place ReLUs) and VGG-16
with random weights at 64x64.

On CPU every method reproduces Captum's float operations in Captum's order, and the maps
came out bitwise equal (max abs difference 0), except occlusion: 2.4e-7 on mnist_cnn and
1.9e-6 on the tiny CNN (maps of size 9 and 21), from forward passes of other batch sizes.
The tolerances below allow for that kind of batch-size-dependent rounding, relative to the
map's own scale (VGG-16's random-weight maps are of size 1e-3, the tiny CNN's 10), no more.
On CUDA (checked once on an H200, not run here) the differences were at the level of
cuDNN's run-to-run nondeterminism and TF32 convolutions, up to 3e-5 on maps of size 1e-2.
"""

from __future__ import annotations

import pytest
import torch

import attribution
from attribution import reference


def assert_agrees(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    """float32 rounding of the same sums computed in another batch layout: a few ulps of
    the map's largest value (the tiny CNN's occlusion differed by 1.9e-6 on a scale of 21)."""
    scale = float(theirs.abs().max())
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6 * max(scale, 1e-12))


# every registered method: a new one fails here until attribution.reference has its Captum twin
TV_METHODS = attribution.list_methods()


def both(name: str, model, x, target, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    ours = attribution.get_method(name)(model, x, target, **kwargs)
    if "generator" in kwargs:  # give Captum the generator's state before ours advanced it
        kwargs["generator"] = torch.Generator().manual_seed(kwargs["generator"].initial_seed())
    return ours, getattr(reference, name)(model, x, target, **kwargs)


@pytest.mark.parametrize("name", TV_METHODS)
def test_mnist_cnn_matches_captum(kit, cnn, mnist, name) -> None:
    x, y = mnist
    ours, theirs = both(name, cnn, x, y, **kit.method_kwargs(name, "mnist_cnn"))
    assert_agrees(ours, theirs)


@pytest.mark.parametrize("name", ["saliency", "occlusion", "smoothgrad", "integrated_gradients"])
def test_mnist_logreg_matches_captum(kit, logreg, mnist, name) -> None:
    x, y = mnist
    ours, theirs = both(name, logreg, x, y, **kit.method_kwargs(name))
    assert_agrees(ours, theirs)


@pytest.mark.parametrize("name", TV_METHODS)
def test_tiny_cnn_matches_captum(kit, tiny, tiny_x, name) -> None:
    kwargs = kit.method_kwargs(name, "tiny")
    if name == "occlusion":
        kwargs.update(window=(1, 2, 3), stride=(1, 1, 2))  # Captum's (c, h, w) form
    ours, theirs = both(name, tiny, tiny_x, torch.tensor([0, 1, 2]), **kwargs)
    assert_agrees(ours, theirs)


@pytest.mark.parametrize("model_name", ["resnet18", "vgg16"])
@pytest.mark.parametrize("name", TV_METHODS)
def test_torchvision_matches_captum(request, kit, photos, model_name, name) -> None:
    model = request.getfixturevalue(model_name)
    x, y = photos
    kwargs = kit.method_kwargs(name, model_name)
    if name == "occlusion":
        kwargs.update(window=16, stride=16)  # 16 windows: VGG-16 on CPU is slow
    if name == "integrated_gradients":
        kwargs.update(steps=4)
    ours, theirs = both(name, model, x, y, **kwargs)
    assert_agrees(ours, theirs)


def test_resnet_guided_backprop_really_overrides_inplace_relus(resnet18, photos) -> None:
    # agreement with Captum could also mean both silently ran the plain gradient
    x, y = photos
    plain = attribution.saliency(resnet18, x, y)
    guided = attribution.guided_backprop(resnet18, x, y)
    deconv = attribution.deconvnet(resnet18, x, y)
    assert not torch.allclose(plain, guided) and not torch.allclose(guided, deconv)


@pytest.mark.parametrize("name", ["guided_backprop", "deconvnet"])
@pytest.mark.parametrize("neuron", [(3, 2, 1), 7])
@pytest.mark.parametrize(("model_name", "layer"), [
    ("cnn", "net.3"), ("cnn", "net.4"), ("resnet18", "net.layer2.0"),
    ("resnet18", "net.layer1.0.bn2"), ("vgg16", "net.features.15")])
def test_neuron_mode_matches_captum_neuron_classes(request, mnist, photos, name, neuron,
                                                   model_name, layer) -> None:
    # layer1.0.bn2's output is then changed in place by `out += identity`: both use a copy
    model = request.getfixturevalue(model_name)
    x = mnist[0] if model_name == "cnn" else photos[0]
    ours = attribution.get_method(name)(model, x, None, layer=layer, neuron=neuron)
    theirs = getattr(reference, name)(model, x, None, layer=layer, neuron=neuron)
    assert_agrees(ours, theirs)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid"])
def test_integrated_gradients_both_quadratures(cnn, mnist, method) -> None:
    x, y = mnist
    ours = attribution.integrated_gradients(cnn, x, y, steps=13, method=method, baseline=0.5)
    theirs = reference.integrated_gradients(cnn, x, y, steps=13, method=method, baseline=0.5)
    assert_agrees(ours, theirs)


def test_saliency_default_comparisons(cnn, vgg16, mnist, photos) -> None:
    # ours is Captum's abs=False; Captum's default abs=True is its absolute value, and the
    # lecture's map is the channel-max of that
    for model, (x, y) in ((cnn, mnist), (vgg16, photos)):
        grad = attribution.saliency(model, x, y)
        torch.testing.assert_close(grad, reference.saliency(model, x, y), rtol=0, atol=0)
        default = reference.saliency_abs(model, x, y)
        torch.testing.assert_close(grad.abs(), default, rtol=0, atol=0)
        torch.testing.assert_close(attribution.saliency_map(grad),
                                   default.amax(dim=1, keepdim=True), rtol=0, atol=0)


def test_grad_cam_relu_and_tensor_baselines_match_captum(cnn, mnist) -> None:
    x, y = mnist
    assert_agrees(attribution.grad_cam(cnn, x, y, layer="net.4", relu=True),
                  reference.grad_cam(cnn, x, y, layer="net.4", relu=True))
    base = torch.full((1, 1, 28, 28), 0.3)
    assert_agrees(attribution.occlusion(cnn, x, y, window=5, stride=5, baseline=base),
                  reference.occlusion(cnn, x, y, window=5, stride=5, baseline=base))
    assert_agrees(attribution.integrated_gradients(cnn, x, y, steps=5, baseline=base),
                  reference.integrated_gradients(cnn, x, y, steps=5, baseline=base))


def test_reference_leaves_the_model_as_found(kit, cnn, mnist) -> None:
    import zoo

    x, y = mnist
    x0 = x.clone()
    before = zoo.ModelState.capture(cnn)
    for name in kit.methods:
        kwargs = kit.method_kwargs(name)
        getattr(reference, name)(cnn, x, y, **kwargs)
    assert before.differences(zoo.ModelState.capture(cnn)) == []
    assert torch.equal(x, x0) and not x.requires_grad
