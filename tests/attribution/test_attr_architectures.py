"""The models people bring: MobileNetV3 (nn.Hardswish besides nn.ReLU), SiLU networks and
Vision Transformers, with seeded random weights. Guided backprop and the deconvnet refuse
models that are no ReLU network, saying why, before any forward pass; Grad-CAM reads a ViT's
patch tokens on the patch grid (checked by hand) and refuses a layer it cannot read as a map,
naming it and its shape."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torchvision
from torch import nn

import attribution
import zoo
from attribution import reference
from attribution.relu_rules import other_activations, relu_refusal
from zoo.layers import cam_layer


def seeded(build: Callable[..., nn.Module], shape: tuple[int, int, int], name: str,
           classes: int = 4, **kwargs: object) -> zoo.Classifier:
    """``build(**kwargs)`` with weights drawn from a fixed seed, as a zoo classifier."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = build(**kwargs)
        if isinstance(net, torchvision.models.VisionTransformer):
            # torchvision zero-initialises the head: the scores would not depend on the input
            nn.init.normal_(net.heads.head.weight, std=0.5)
    return zoo.Classifier(net, mean=(0.5,) * shape[0], std=(0.25,) * shape[0],
                          num_classes=classes, input_shape=shape, name=name).eval()


def silu_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.SiLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


@pytest.fixture(scope="module")
def mobilenet() -> zoo.Classifier:
    return seeded(torchvision.models.mobilenet_v3_small, (3, 64, 64), "mobilenet",
                  num_classes=4)


@pytest.fixture(scope="module")
def vit() -> zoo.Classifier:
    return seeded(torchvision.models.VisionTransformer, (3, 32, 32), "vit", image_size=32,
                  patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
                  num_classes=4)


@pytest.fixture(scope="module")
def silu() -> zoo.Classifier:
    return seeded(silu_cnn, (3, 16, 16), "silu")


def images(model: zoo.Classifier, n: int = 3) -> torch.Tensor:
    return torch.rand(n, *model.input_shape, generator=torch.Generator().manual_seed(3))


def test_relu_rules_say_why_they_do_not_apply(mobilenet, vit, silu, cnn) -> None:
    assert relu_refusal(cnn) is None  # a ReLU network
    assert relu_refusal(mobilenet) == (
        "the model has 19 nn.Hardswish, 9 nn.Hardsigmoid besides 14 nn.ReLU: overriding only "
        "the ReLUs gives a map that is neither this method nor the gradient")
    assert relu_refusal(silu) == "the model has no nn.ReLU module; its activations are 2 nn.SiLU"
    # attention and its softmax are no elementwise activation; the MLP's GELUs are
    assert relu_refusal(vit) == "the model has no nn.ReLU module; its activations are 2 nn.GELU"
    efficientnet = torchvision.models.efficientnet_b0(num_classes=4)
    assert other_activations(efficientnet) == {"nn.SiLU": 49, "nn.Sigmoid": 16}
    assert "no nn.ReLU module; its activations are 49 nn.SiLU, 16 nn.Sigmoid" in relu_refusal(
        efficientnet)
    six = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6(), nn.Flatten(), nn.Linear(4, 2))
    assert relu_refusal(six) == "the model has no nn.ReLU module; its activations are 1 nn.ReLU6"
    functional = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    assert "nor any other activation module" in relu_refusal(functional)
    # the registration carries the refusal: the harness asks it before running anything
    for name in ("guided_backprop", "deconvnet"):
        info = attribution.get_method(name)
        assert info.why_not(mobilenet) == relu_refusal(mobilenet)
        assert info.why_not(cnn) is None
    assert attribution.get_method("saliency").why_not(mobilenet) is None


@pytest.mark.parametrize("method", [attribution.guided_backprop, attribution.deconvnet])
def test_relu_rules_refuse_a_mixed_model_before_any_forward_pass(kit, mobilenet, method) -> None:
    counted = kit.CountingModel(mobilenet)
    with pytest.raises(ValueError, match=r"19 nn\.Hardswish, 9 nn\.Hardsigmoid besides 14 "
                                         r"nn\.ReLU"):
        method(counted, images(mobilenet), 0)
    with pytest.raises(ValueError, match="defined for ReLU networks"):
        method(counted, images(mobilenet), None, layer="model.net.features.0", neuron=0)
    assert counted.calls == 0


def test_relu_rules_refuse_silu_and_transformer_models(silu, vit) -> None:
    with pytest.raises(ValueError, match=r"no nn\.ReLU module; its activations are 2 nn\.SiLU"):
        attribution.guided_backprop(silu, images(silu), 1)
    with pytest.raises(ValueError, match=r"2 nn\.GELU"):
        attribution.deconvnet(vit, images(vit), 1)


def hand_grad_cam(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
                  layer: str) -> torch.Tensor:
    """Grad-CAM on a ViT layer written out: the layer's tokens and the target logit's
    gradient on them, class token dropped, patches on their 4 x 4 grid."""
    out: list[torch.Tensor] = []
    handle = model.get_submodule(layer).register_forward_hook(lambda m, i, o: out.append(o))
    try:
        with torch.enable_grad():
            logits = model(x)
            (grad,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), out[0])
    finally:
        handle.remove()
    tokens, grad = out[0].detach()[:, 1:], grad[:, 1:]  # (N, 16, D): patch tokens, row-major
    weights = grad.mean(dim=1, keepdim=True)  # (N, 1, D): each channel's mean gradient
    return (tokens * weights).sum(dim=2).reshape(len(x), 1, 4, 4)


def test_grad_cam_reads_vit_tokens_on_the_patch_grid(vit) -> None:
    x, y = images(vit), torch.tensor([0, 1, 3])
    layer = cam_layer(vit)
    assert layer == "net.encoder.layers.encoder_layer_1.ln_1"  # the last block's first norm
    cam = attribution.grad_cam(vit, x, y, layer=layer)
    assert cam.shape == (3, 1, 4, 4)
    torch.testing.assert_close(cam, hand_grad_cam(vit, x, y, layer), rtol=1e-5, atol=1e-6)
    assert cam.abs().min() > 0  # every patch matters a little at random weights
    relu = attribution.grad_cam(vit, x, y, layer=layer, relu=True)
    torch.testing.assert_close(relu, cam.clamp(min=0))
    # why not the last block's output: the head reads the class token alone, so the patch
    # tokens' gradient there is 0 and the map blank
    last = attribution.grad_cam(vit, x, y, layer="net.encoder.layers.encoder_layer_1")
    assert last.shape == (3, 1, 4, 4) and not last.any()


class NonSquareTokens(nn.Module):
    """A conv map (N, 4, 2, 3) handed on as 6 tokens: no class token and no square grid."""

    num_classes = 2

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.tokens = nn.Flatten(2)
        self.fc = nn.Linear(24, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tokens(self.conv(x)).transpose(1, 2)  # (N, 6, 4)
        return self.fc(t.flatten(1))


def test_grad_cam_refuses_an_output_it_cannot_read_as_a_map(kit, vit) -> None:
    counted = kit.CountingModel(vit)
    with pytest.raises(ValueError, match=r"layer 'model\.net\.heads\.head', shaped \(3, 4\)"):
        attribution.grad_cam(counted, images(vit), 0, layer="model.net.heads.head")
    assert counted.calls == 1  # the shape is known after the forward pass, before the backward
    with pytest.raises(ValueError, match=r"layer 'tokens', shaped \(2, 4, 6\)"):
        attribution.grad_cam(NonSquareTokens().eval(), torch.rand(2, 1, 2, 3), 0, layer="tokens")


def test_grad_cam_on_mobilenets_default_layer_matches_captum(mobilenet) -> None:
    x, y = images(mobilenet, 2), torch.tensor([1, 2])
    layer = cam_layer(mobilenet)
    assert layer == "net.features"  # its last block's (in-place) Hardswish map, 2 x 2
    ours = attribution.grad_cam(mobilenet, x, y, layer=layer)
    assert ours.shape == (2, 1, 2, 2)
    theirs = reference.grad_cam(mobilenet, x, y, layer=layer)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
