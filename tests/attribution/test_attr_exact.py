"""Values checked by hand on models with set weights: the linear classifier (whose input
gradient is its weight row), and the tiny CNN for the ReLU rules' neuron mode, computed here
with plain autograd and the rule applied by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import attribution


def weight_rows(linear: nn.Module, target: torch.Tensor) -> torch.Tensor:
    return linear[1].weight[target].detach().view(-1, 2, 4, 4)


@pytest.fixture(scope="module")
def lin_x() -> torch.Tensor:
    return torch.rand(3, 2, 4, 4, generator=torch.Generator().manual_seed(5))


TARGET = torch.tensor([0, 2, 1])


def test_saliency_of_a_linear_model_is_its_weight_row(linear, lin_x) -> None:
    grad = attribution.saliency(linear, lin_x, TARGET)
    torch.testing.assert_close(grad, weight_rows(linear, TARGET), rtol=0, atol=0)  # exact
    expected_map = weight_rows(linear, TARGET).abs().amax(dim=1, keepdim=True)
    torch.testing.assert_close(attribution.saliency_map(grad), expected_map, rtol=0, atol=0)


def test_int_target_is_the_same_class_for_every_image(linear, lin_x) -> None:
    torch.testing.assert_close(attribution.saliency(linear, lin_x, 2),
                               attribution.saliency(linear, lin_x, torch.tensor([2, 2, 2])))


def test_smoothgrad_of_a_linear_model_is_its_weight_row(linear, lin_x) -> None:
    g = torch.Generator().manual_seed(0)
    out = attribution.smoothgrad(linear, lin_x, TARGET, samples=5, sigma=0.3, generator=g)
    # the mean of 5 equal gradients: a sum and a division by 5 in float32
    torch.testing.assert_close(out, weight_rows(linear, TARGET), rtol=1e-6, atol=1e-6)


def test_integrated_gradients_completeness(linear, lin_x) -> None:
    w = weight_rows(linear, TARGET)
    gl = attribution.integrated_gradients(linear, lin_x, TARGET, steps=7, baseline=0.2)
    # Gauss-Legendre weights sum to 1: exactly w * (x - b), up to float32 rounding
    torch.testing.assert_close(gl, w * (lin_x - 0.2), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        gap = linear(lin_x).gather(1, TARGET[:, None]) - linear(torch.full_like(lin_x, 0.2)).gather(
            1, TARGET[:, None])
    torch.testing.assert_close(gl.flatten(1).sum(1), gap.squeeze(1), rtol=1e-5, atol=1e-5)
    # Captum's riemann_trapezoid weights sum to (steps - 1) / steps, matched on purpose
    tr = attribution.integrated_gradients(linear, lin_x, TARGET, steps=7,
                                          method="riemann_trapezoid", baseline=0.2)
    torch.testing.assert_close(tr, w * (lin_x - 0.2) * 6 / 7, rtol=1e-5, atol=1e-6)


def test_occlusion_by_hand(linear, lin_x) -> None:
    w = weight_rows(linear, TARGET)
    # one pixel of one channel at a time: the drop is w * (x - baseline) exactly
    one = attribution.occlusion(linear, lin_x, TARGET, window=(1, 1, 1), stride=1, baseline=0.5)
    # a drop is the difference of two float32 logits of size up to ~60 (ulp 4e-6): each
    # side is rounded, so allow a few ulps of the logit, not of the drop
    torch.testing.assert_close(one, w * (lin_x - 0.5), rtol=0, atol=3e-5)
    # 2x2 windows over both channels, stride 2: every pixel of a window gets its total drop
    blocks = attribution.occlusion(linear, lin_x, TARGET, window=2, stride=2)
    drop = (w * lin_x).sum(dim=1, keepdim=True)  # (N, 1, 4, 4)
    per_window = drop.unfold(2, 2, 2).unfold(3, 2, 2).sum(dim=(-1, -2))  # (N, 1, 2, 2)
    expected = per_window.repeat_interleave(2, 2).repeat_interleave(2, 3).expand(-1, 2, -1, -1)
    torch.testing.assert_close(blocks, expected, rtol=0, atol=3e-5)  # logit ulps, as above


def test_occlusion_overhanging_window_is_cut_and_averaged(linear, lin_x) -> None:
    # window 3 stride 2 on 4 pixels: starts 0 and 2 (Captum's ceil((4 - 3) / 2) + 1 = 2
    # positions), the second cut to 2 pixels; pixel 2 is covered twice, the rest once
    w = weight_rows(linear, TARGET)
    out = attribution.occlusion(linear, lin_x, TARGET, window=(2, 3, 4), stride=(1, 2, 1))
    contrib = (w * lin_x).sum(dim=(1, 3))  # (N, 4): drop per image row
    first, second = contrib[:, 0:3].sum(1), contrib[:, 2:4].sum(1)
    rows = torch.stack([first, first, (first + second) / 2, second], dim=1)
    torch.testing.assert_close(out, rows[:, None, :, None].expand(-1, 2, -1, 4),
                               rtol=0, atol=3e-5)  # logit ulps, as above


def test_occlusion_does_not_depend_on_batch_size(cnn, mnist) -> None:
    x, y = mnist
    outs = [attribution.occlusion(cnn, x, y, window=6, stride=4, batch_size=b)
            for b in (1, 8, 24, 10_000)]
    for out in outs[1:]:
        # the same drops summed in the same order, but the logits come from forward passes of
        # other batch sizes, where oneDNN's convolution rounds differently: they moved by a
        # few ulps (7.6e-6 at most; its logits reach 36, where an ulp is 3.8e-6)
        torch.testing.assert_close(out, outs[0], rtol=0, atol=2e-5)


def test_grad_cam_by_hand(tiny, tiny_x) -> None:
    target = torch.tensor([0, 1, 2])
    acts = tiny.relu2(tiny.conv2(tiny.relu1(tiny.conv1(tiny_x)))).detach()  # (N, 2, 6, 6)
    # the logit is linear in the layer: its gradient is the fc weight row
    grads = tiny.fc.weight[target].detach().view(3, 2, 6, 6)
    expected = (grads.mean(dim=(2, 3), keepdim=True) * acts).sum(dim=1, keepdim=True)
    cam = attribution.grad_cam(tiny, tiny_x, target, layer="relu2")
    torch.testing.assert_close(cam, expected, rtol=1e-5, atol=1e-6)
    relu_cam = attribution.grad_cam(tiny, tiny_x, target, layer="relu2", relu=True)
    torch.testing.assert_close(relu_cam, expected.clamp(min=0), rtol=1e-5, atol=1e-6)
    big = attribution.upsample(cam, (12, 12))
    assert big.shape == (3, 1, 12, 12)
    torch.testing.assert_close(big.mean(dim=(2, 3)), cam.mean(dim=(2, 3)), rtol=1e-4, atol=1e-5)


def manual_rule_gradient(tiny: nn.Module, x: torch.Tensor, seed: torch.Tensor,
                         rule: str) -> torch.Tensor:
    """d(seed . conv2(relu1(conv1(x)))) / dx with relu1's backward replaced by the rule."""
    x = x.clone().requires_grad_(True)
    pre = tiny.conv1(x)
    act = pre.clamp(min=0).detach().requires_grad_(True)
    out = tiny.conv2(act)
    (g_act,) = torch.autograd.grad(out, act, grad_outputs=seed)
    g_pre = g_act.clamp(min=0)
    if rule == "guided":
        g_pre = g_pre * (pre > 0)
    (g_x,) = torch.autograd.grad(pre, x, grad_outputs=g_pre)
    return g_x


@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
@pytest.mark.parametrize("neuron", [(1, 2, 3), (0, 0, 5), 1])
def test_neuron_mode_by_hand(tiny, tiny_x, rule, neuron) -> None:
    seed = torch.zeros(3, 2, 6, 6)
    if isinstance(neuron, int):
        seed[:, neuron] = 1.0  # a channel: its sum
    else:
        seed[(slice(None), *neuron)] = 1.0  # one unit: its gradient set to 1
    expected = manual_rule_gradient(tiny, tiny_x, seed, rule)
    method = attribution.guided_backprop if rule == "guided" else attribution.deconvnet
    out = method(tiny, tiny_x, None, layer="conv2", neuron=neuron)
    # the same products in the same order as the hand computation
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    assert out.abs().sum() > 0


def test_relu_rules_differ_from_the_plain_gradient(tiny, tiny_x) -> None:
    target = torch.tensor([0, 1, 2])
    plain = attribution.saliency(tiny, tiny_x, target)
    guided = attribution.guided_backprop(tiny, tiny_x, target)
    assert not torch.allclose(plain, guided)
    assert not torch.allclose(guided, attribution.deconvnet(tiny, tiny_x, target))


class FunctionalRelu(nn.Module):
    num_classes = 3

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(36, 8), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.nn.functional.relu(self.fc1(x.flatten(1))))


@pytest.mark.parametrize("method", [attribution.guided_backprop, attribution.deconvnet])
def test_relu_rules_refuse_models_without_relu_modules(kit, logreg, mnist, tiny_x,
                                                       method) -> None:
    for model, x in ((logreg, mnist[0]), (FunctionalRelu().eval(), tiny_x)):
        counted = kit.CountingModel(model)
        with pytest.raises(ValueError, match="no nn.ReLU"):
            method(counted, x, 0)
        assert counted.calls == 0
