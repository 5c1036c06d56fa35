"""Occlusion's suite grid follows the image: the suite defaults are fractions of the side
(``rel_window``, ``rel_stride``), resolved for a call as ``max(1, floor(fraction * side))``,
so a 224 px image gets 13 x 13 windows as a 28 px digit does, not 111 x 111."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import attribution
from attribution.occlusion import window_starts


class ImageCounter(nn.Module):
    """Counts the images the model is run on."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.images = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images += len(x)
        return self.model(x)


@pytest.mark.parametrize(("side", "window", "stride", "per_side"), [
    (28, 4, 2, 13),  # the shipped digits and shapes: the 4 px window by 2 they always had
    (32, 4, 2, 15),
    (64, 9, 4, 15),
    (224, 33, 16, 13),  # not 111 x 111 = 12,321 forward passes per image
])
def test_the_suite_grid_is_a_fixed_number_of_windows_a_side(side: int, window: int,
                                                             stride: int, per_side: int) -> None:
    info = attribution.get_method("occlusion")
    kwargs = info.kwargs(info.suite_defaults, side=side)
    assert kwargs == {"window": window, "stride": stride}
    assert len(window_starts(side, window, stride)) == per_side
    model = ImageCounter(nn.Sequential(nn.Flatten(), nn.Linear(side * side, 2))).eval()
    x = torch.rand(1, 1, side, side, generator=torch.Generator().manual_seed(0))
    out = attribution.occlusion(model, x, 0, **kwargs)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert model.images == 1 + per_side ** 2  # the reference, then one image per window


def test_the_function_takes_pixels_and_the_relative_form_needs_a_side() -> None:
    info = attribution.get_method("occlusion")
    # the signature's parameters are in pixels; rel_window is the suite's spelling of window
    assert {"window", "stride"} <= set(info.params) and "rel_window" not in info.params
    assert info.suite_keys()["rel_window"] == "window"
    with pytest.raises(ValueError, match="rel_window is a fraction of side"):
        info.kwargs({"rel_window": 0.15, "stride": 2})
    with pytest.raises(ValueError, match="give window or rel_window, not both"):
        info.kwargs({"rel_window": 0.15, "window": 4}, side=28)
