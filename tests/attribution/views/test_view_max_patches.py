"""Receptive fields measured by input gradients, checked against hand computation, and the
maximally activating patches they crop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import zoo
from attribution.views import ReceptiveField, activations, max_patches, receptive_field

# mnist_cnn: conv5 pad 2 (net.0) - ReLU - maxpool 2 (net.2) - conv5 pad 2 (net.3) - ReLU -
# maxpool 2 (net.5). Size r, stride j (the jump, in input pixels) and offset o of unit 0
# follow r' = r + (k - 1) j, o' = o - p j, j' = j s for each layer (kernel k, padding p,
# stride s):
#   net.0: r = 5, j = 1, o = -2
#   net.2: r = 5 + 1 * 1 = 6, j = 2, o = -2
#   net.3: r = 6 + 4 * 2 = 14, j = 2, o = -2 - 2 * 2 = -6
#   net.5: r = 14 + 1 * 2 = 16, j = 4, o = -6
MNIST_FIELDS = {
    "net.0": ReceptiveField((5, 5), (1, 1), (-2, -2)),
    "net.1": ReceptiveField((5, 5), (1, 1), (-2, -2)),
    "net.2": ReceptiveField((6, 6), (2, 2), (-2, -2)),
    "net.3": ReceptiveField((14, 14), (2, 2), (-6, -6)),
    "net.5": ReceptiveField((16, 16), (4, 4), (-6, -6)),
}


@pytest.mark.parametrize("layer", sorted(MNIST_FIELDS))
def test_receptive_field_matches_hand_computation(mnist_cnn, layer, assert_unchanged):
    before = zoo.ModelState.capture(mnist_cnn)
    assert receptive_field(mnist_cnn, layer, (1, 28, 28)) == MNIST_FIELDS[layer]
    assert_unchanged(mnist_cnn, before)


def test_receptive_field_of_resnet18_stages():
    # the published values for ResNet-18 (conv 7/2, maxpool 3/2, then 3x3 basic blocks)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = zoo.load_model("tv:resnet18", weights="random")
    assert receptive_field(model, "net.layer1", (3, 32, 32)) == ReceptiveField(
        (43, 43), (4, 4), (-21, -21))
    assert receptive_field(model, "net.layer2", (3, 32, 32)).size == (99, 99)


def test_real_gradient_stays_inside_the_field(mnist_cnn, digits):
    x = digits[0][:1].clone().requires_grad_(True)
    field = MNIST_FIELDS["net.3"]
    acts: list[torch.Tensor] = []
    with zoo.HookSet() as hooks:
        hooks.forward(mnist_cnn.net[3], lambda m, a, o: acts.append(o))
        mnist_cnn(x)
    for i, j in ((0, 0), (7, 4), (13, 13)):
        (grad,) = torch.autograd.grad(acts[0][0, :, i, j].sum(), x, retain_graph=True)
        top, left, h, w = field.box(i, j)
        inside = torch.zeros(28, 28, dtype=torch.bool)
        inside[max(top, 0):top + h, max(left, 0):left + w] = True
        assert grad[0, 0][~inside].abs().max() == 0
        assert grad[0, 0][inside].abs().max() > 0


def test_global_pooling_has_no_patches():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    with pytest.raises(ValueError, match="whole image"):
        receptive_field(model, "1", (1, 8, 8))
    with pytest.raises(ValueError, match="feature maps"):
        receptive_field(model, "2", (1, 8, 8))


def test_max_patches_are_the_strongest_units(mnist_cnn, digits, assert_unchanged):
    x = digits[0][:200]
    before = zoo.ModelState.capture(mnist_cnn)
    result = max_patches(mnist_cnn, x, "net.3", [0, 9], k=5, batch_size=64)
    assert_unchanged(mnist_cnn, before)
    assert result.channels == (0, 9)
    assert result.patches.shape == (2, 5, 1, 14, 14)
    acts = activations(mnist_cnn, x, "net.3")[:, [0, 9]]  # (200, 2, 14, 14)
    best = acts.flatten(2).amax(dim=2).T  # (2, 200): each image's strongest unit
    torch.testing.assert_close(result.values, best.sort(dim=1, descending=True).values[:, :5])
    padded = F.pad(x, (14, 14, 14, 14))
    for c in range(2):
        assert len(set(result.images[c].tolist())) == 5
        for r in range(5):
            n, (i, j) = int(result.images[c, r]), result.positions[c, r].tolist()
            assert acts[n, c, i, j] == result.values[c, r]
            top, left, h, w = result.receptive_field.box(i, j)
            crop = padded[n, :, top + 14:top + 14 + h, left + 14:left + 14 + w]
            torch.testing.assert_close(result.patches[c, r], crop, rtol=0, atol=0)
    again = max_patches(mnist_cnn, x, "net.3", [0, 9], k=5, batch_size=200)
    for field in ("values", "images", "positions", "patches"):
        assert torch.equal(getattr(again, field), getattr(result, field))


def test_any_unit_mode_and_border_padding():
    # one 3x3 box filter; a single bright pixel in the corner makes units (0,0), (0,1),
    # (1,0), (1,1) tie at 1: ties go to the earliest position, whose field hangs over the
    # top-left border by one pixel
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)).eval()
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.zero_()
    x = torch.zeros(2, 1, 5, 5)
    x[1, 0, 0, 0] = 1.0
    result = max_patches(model, x, "0", 0, k=4, distinct_images=False, fill=0.25)
    assert result.images[0].tolist() == [1, 1, 1, 1]
    assert result.positions[0].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    expected = torch.tensor([[0.25, 0.25, 0.25], [0.25, 1.0, 0.0], [0.25, 0.0, 0.0]])
    torch.testing.assert_close(result.patches[0, 0, 0], expected)
    per_image = max_patches(model, x, "0", 0, k=2, fill=0.25)
    assert per_image.images[0].tolist() == [1, 0]  # image 0 is all zeros
    assert per_image.positions[0, 0].tolist() == [0, 0]  # the earliest of the tied maxima
    torch.testing.assert_close(per_image.patches[0, 0, 0], expected)


def test_bad_input_fails_before_any_forward(mnist_cnn, digits, counting):
    model = counting(mnist_cnn)
    x = digits[0][:10]
    cases = [
        (dict(channels=64), ValueError, "channels"),
        (dict(channels=[]), ValueError, "channels"),
        (dict(channels=[1, 1]), ValueError, "channels"),
        (dict(k=11), ValueError, "k=11"),
        (dict(k=0), ValueError, "k must"),
        (dict(fill=float("inf")), ValueError, "fill"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(layer="model.net.7"), ValueError, "feature maps"),
        (dict(layer="net.3"), KeyError, "net.3"),
        (dict(x=x.double() * 2), ValueError, "x must lie"),
    ]
    for change, error, match in cases:
        kwargs = dict(x=x, layer="model.net.3", channels=[0]) | change
        with pytest.raises(error, match=match):
            max_patches(model, **kwargs)
    assert model.calls == 0


def test_probe_runs_no_user_hook_and_errors_leave_no_trace(mnist_cnn, digits, assert_unchanged):
    calls: list[int] = []
    with zoo.HookSet() as hooks:
        hooks.forward(mnist_cnn.net[3], lambda m, a, o: calls.append(1))
        before = zoo.ModelState.capture(mnist_cnn)
        receptive_field(mnist_cnn, "net.3", (1, 28, 28))
        assert calls == []  # the probe ran on a private copy
        with pytest.raises(RuntimeError):
            max_patches(mnist_cnn, torch.rand(4, 3, 28, 28), "net.3", 0, k=2)
        assert_unchanged(mnist_cnn, before)
    mnist_cnn.train()
    try:
        with pytest.warns(RuntimeWarning, match="training mode"):
            max_patches(mnist_cnn, digits[0][:4], "net.3", 0, k=2)
        assert all(m.training for m in mnist_cnn.modules())
    finally:
        mnist_cnn.eval()


def test_patches_say_which_part_lies_inside_the_image():
    # the same corner unit as above: its 3x3 field hangs one pixel over the top and the left
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)).eval()
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.zero_()
    x = torch.zeros(2, 1, 5, 5)
    x[1, 0, 0, 0] = 1.0
    x[1, 0, 4, 4] = 0.5
    result = max_patches(model, x, "0", 0, k=8, distinct_images=False)
    boxes = {tuple(p): tuple(b) for p, b in zip(result.positions[0].tolist(),
                                                result.inside[0].tolist(), strict=True)}
    assert boxes[(0, 0)] == (1, 1, 2, 2)  # rows and columns 1-2 of the patch are the image
    assert boxes[(0, 1)] == (1, 0, 2, 3)
    assert boxes[(4, 4)] == (0, 0, 2, 2)  # the bottom-right corner: clipped below and right
    top, left, h, w = boxes[(0, 0)]
    first = result.patches[0, 0, 0, top:top + h, left:left + w]
    torch.testing.assert_close(first, x[1, 0, :2, :2])


class _LayerNorm2d(nn.LayerNorm):
    """timm's channels-first LayerNorm: normalises each position over the channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@pytest.mark.parametrize("norm", [lambda c: nn.GroupNorm(1, c), _LayerNorm2d,
                                  lambda c: nn.InstanceNorm2d(c, affine=True)])
def test_channel_norms_do_not_hide_the_field(norm):
    # on the all-ones probe a channel norm's output is constant: without replacing it the
    # gradient is exactly zero and the field could not be measured
    model = nn.Sequential(nn.Conv2d(3, 4, 2, stride=2), norm(4), nn.GELU(),
                          nn.Conv2d(4, 4, 3, padding=1), norm(4), nn.GELU()).eval()
    assert receptive_field(model, "5", (3, 16, 16)) == ReceptiveField((6, 6), (2, 2), (-2, -2))


def test_central_pair_is_used_on_an_even_map():
    # a 2x2 map of 8-pixel patches at 16 px: units (0, 0) and (1, 1) are the central pair
    model = nn.Sequential(nn.Conv2d(3, 2, 8, stride=8)).eval()
    assert receptive_field(model, "0", (3, 16, 16)) == ReceptiveField((8, 8), (8, 8), (0, 0))


class _OneSize(nn.Module):
    """Takes 8 x 8 images only and asserts it, as timm's Vision Transformer does."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 7, padding=3)  # a central field touches the border

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] == 8, f"Input height ({x.shape[-1]}) doesn't match model (8)."
        return self.conv(x)


def test_a_model_that_refuses_the_doubled_probe_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"needs a 16x16 probe, and the model does not run at "
                                         r"that size \(AssertionError: Input height \(16\)"):
        receptive_field(_OneSize().eval(), "conv", (1, 8, 8))


def test_largest_bounds_the_search():
    model = nn.Sequential(nn.Conv2d(1, 1, 9, padding=4)).eval()
    assert receptive_field(model, "0", (1, 8, 8)).size == (9, 9)
    with pytest.raises(ValueError, match="more than 8 pixels"):
        receptive_field(model, "0", (1, 8, 8), largest=8)
