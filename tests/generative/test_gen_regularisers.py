"""Yosinski et al. 2015's regularisers, each checked for what it does to an image, for its
argument checks, and switched on inside class_model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from generative.class_model import class_model
from generative.regularisers import (
    ContributionClip,
    GaussianBlur,
    Jitter,
    L2Decay,
    NormClip,
    apply_after,
    check_regularisers,
)

CENTRE = torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1)


def noisy(seed: int = 0, n: int = 2) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_l2_decay_shrinks_towards_centre_by_exactly_one_minus_decay() -> None:
    x = noisy()
    out = L2Decay(0.1).after(x, torch.zeros_like(x), 0, CENTRE)
    torch.testing.assert_close(out - CENTRE, 0.9 * (x - CENTRE))
    assert torch.equal(L2Decay(0.0).after(x, x, 3, CENTRE), CENTRE + (x - CENTRE))


def test_gaussian_blur_only_every_nth_step_and_keeps_constants() -> None:
    x, grad = noisy(), torch.zeros(2, 3, 16, 16)
    blur = GaussianBlur(1.0, every=3)
    for step in range(6):
        out = blur.after(x, grad, step, CENTRE)
        assert torch.equal(out, x) == (step not in (2, 5)), step
    smoothed = blur.after(x, grad, 2, CENTRE)
    assert float(smoothed.diff(dim=-1).abs().mean()) < 0.5 * float(x.diff(dim=-1).abs().mean())
    flat = torch.full((1, 3, 16, 16), 0.3)
    torch.testing.assert_close(GaussianBlur(2.0).after(flat, grad[:1], 0, CENTRE), flat)
    assert torch.equal(GaussianBlur(0.0).after(x, grad, 0, CENTRE), x)


def test_norm_clip_sets_the_expected_share_of_pixels_to_centre() -> None:
    x = noisy()
    out = NormClip(50).after(x, torch.zeros_like(x), 0, CENTRE)
    at_centre = (out == CENTRE).all(dim=1)  # (N, H, W)
    assert at_centre.flatten(1).sum(dim=1).tolist() == [128, 128]  # half of 16*16
    norm = (x - CENTRE).norm(dim=1)
    kept = ~at_centre
    for i in range(2):  # the survivors are the large-norm pixels, unchanged
        assert float(norm[i][kept[i]].min()) >= float(norm[i][at_centre[i]].max())
    assert torch.equal(out[kept.unsqueeze(1).expand_as(x)], x[kept.unsqueeze(1).expand_as(x)])
    assert torch.equal(NormClip(0).after(x, x, 0, CENTRE), x)


def test_contribution_clip_keeps_high_contribution_pixels() -> None:
    x = CENTRE + torch.full((1, 3, 4, 4), 0.1)
    grad = 0.01 * torch.arange(1.0, 17.0).view(1, 1, 4, 4).expand(1, 3, 4, 4).clone()
    grad[0, :, 0, 0] = -5.0  # large |sum_c (x - centre) * grad|, either sign
    grad[0, :, 2, 1] = 4.0
    out = ContributionClip(75).after(x, grad, 0, CENTRE)
    kept = ~(out == CENTRE).all(dim=1)[0]  # (H, W)
    assert int(kept.sum()) == 4  # the top quarter of 16 distinct contributions
    assert kept.nonzero().tolist() == [[0, 0], [2, 1], [3, 2], [3, 3]]
    assert torch.equal(out[:, :, kept], x[:, :, kept])


def test_jitter_offsets_are_seeded_and_bounded() -> None:
    def draw(seed: int) -> list[tuple[int, int]]:
        return Jitter(2).offsets(200, torch.Generator().manual_seed(seed), torch.device("cpu"))

    offsets = draw(0)
    assert offsets == draw(0) and offsets != draw(1) and len(offsets) == 200
    assert all(-2 <= a <= 2 and -2 <= b <= 2 for a, b in offsets)
    assert {a for a, _ in offsets} == {-2, -1, 0, 1, 2}
    assert Jitter(0).offsets(3, None, torch.device("cpu")) == [(0, 0)] * 3
    x = noisy(n=1)
    assert torch.equal(Jitter.shift(x, (1, -2)), torch.roll(x, (1, -2), dims=(-2, -1)))
    assert Jitter.shift(x, (0, 0)) is x


def test_apply_after_runs_all_but_jitter_in_order() -> None:
    x = noisy()
    regs = [Jitter(3), L2Decay(0.5), L2Decay(0.5)]
    torch.testing.assert_close(apply_after(regs, x, x, 0, CENTRE),
                               CENTRE + 0.25 * (x - CENTRE))


@pytest.mark.parametrize("make", [
    lambda: L2Decay(-0.1), lambda: L2Decay(1.0), lambda: L2Decay(float("nan")),
    lambda: GaussianBlur(-1.0), lambda: GaussianBlur(1.0, every=0),
    lambda: NormClip(101), lambda: NormClip(-1), lambda: ContributionClip(float("inf")),
    lambda: Jitter(-1), lambda: Jitter(1.5), lambda: check_regularisers("blur"),
    lambda: check_regularisers([L2Decay(0.1), "blur"]),
])
def test_invalid_values_raise(make: object) -> None:
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("reg", [
    L2Decay(0.05), GaussianBlur(0.5, every=4), NormClip(20), ContributionClip(20), Jitter(1),
], ids=repr)
def test_class_model_still_improves_with_each_regulariser(tiny: nn.Module, reg: object) -> None:
    result = class_model(tiny, [0, 1, 2, 3], steps=8, regularisers=[reg],
                         generator=torch.Generator().manual_seed(0))
    assert result.improved and result.finite
    assert result.settings["regularisers"] == [repr(reg)]


def test_class_model_with_all_regularisers_and_adam(tiny: nn.Module) -> None:
    regs = [Jitter(1), L2Decay(0.02), GaussianBlur(0.5, every=2), NormClip(10),
            ContributionClip(10)]
    result = class_model(tiny, [1, 3], steps=8, regularisers=regs, optimizer="adam",
                         generator=torch.Generator().manual_seed(0))
    assert result.improved
