"""Localisation: mass inside the mask and the pointing game, exact on hand-made maps, and
saliency on shapes_cnn beating a uniform map."""

from __future__ import annotations

import math

import pytest
import torch

import attribution
from attribution.metrics import localisation


def square_mask(n: int = 2, size: int = 8) -> torch.Tensor:
    mask = torch.zeros(n, 1, size, size, dtype=torch.bool)
    mask[:, :, 2:5, 3:6] = True  # 9 of 64 pixels
    return mask


def test_map_equal_to_the_mask_scores_one() -> None:
    mask = square_mask()
    result = localisation(mask.float().repeat(1, 3, 1, 1), mask)
    torch.testing.assert_close(result.mass_inside, torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(result.pointing, torch.ones(2, dtype=torch.float64))
    assert result.mean_mass_inside == 1.0 and result.pointing_accuracy == 1.0


def test_uniform_map_scores_the_area_fraction(shapes) -> None:
    _, _, mask = shapes
    area = mask.flatten(1).double().mean(1)
    for mode in ("positive", "absolute"):
        result = localisation(torch.ones(mask.shape[0], 3, 32, 32), mask, mode=mode)
        torch.testing.assert_close(result.mass_inside, area)
        # every pixel ties for the maximum: the expected hit of a random tie-break
        torch.testing.assert_close(result.pointing, area)


def test_pointing_tolerance_in_pixels() -> None:
    mask = square_mask(1)
    attr = torch.zeros(1, 1, 8, 8)
    attr[0, 0, 3, 7] = 1.0  # two columns right of the square (columns 3..5)
    assert localisation(attr, mask).pointing.item() == 0.0
    assert localisation(attr, mask, tolerance=1).pointing.item() == 0.0
    assert localisation(attr, mask, tolerance=2).pointing.item() == 1.0
    attr[0, 0, 6, 7] = 1.0  # diagonal (2, 2) from the corner (4, 5): distance 2.83
    assert localisation(attr, mask, tolerance=2).pointing.item() == 0.5
    assert localisation(attr, mask, tolerance=3).pointing.item() == 1.0


def test_positive_mode_ignores_negative_evidence() -> None:
    mask = square_mask(2)
    attr = torch.zeros(2, 1, 8, 8)
    attr[0, 0, 3, 4] = 3.0  # inside
    attr[0, 0, 0, 0] = 1.0  # outside
    attr[0, 0, 7, 7] = -5.0  # negative, outside
    attr[1] = -1.0  # no positive mass at all
    pos = localisation(attr, mask, mode="positive")
    assert pos.mass_inside[0].item() == pytest.approx(0.75)
    assert math.isnan(pos.mass_inside[1].item())
    assert pos.mean_mass_inside == pytest.approx(0.75)
    absolute = localisation(attr, mask, mode="absolute")
    assert absolute.mass_inside[0].item() == pytest.approx(3 / 9)
    assert absolute.pointing[0].item() == 0.0  # |-5| is the maximum


def test_saliency_beats_uniform_on_shapes(shapes, shapes_cnn) -> None:
    x, y, mask = shapes
    sal = localisation(attribution.saliency(shapes_cnn, x, y), mask, mode="absolute")
    uniform = localisation(torch.ones_like(x), mask, mode="absolute")
    # measured on these 128 images: mass 0.44 vs 0.16, pointing 0.63 vs 0.16
    # (0.98 with a 2-pixel tolerance)
    assert sal.mean_mass_inside > uniform.mean_mass_inside + 0.2
    assert sal.pointing_accuracy > uniform.pointing_accuracy + 0.35
    tolerant = localisation(attribution.saliency(shapes_cnn, x, y), mask, mode="absolute",
                            tolerance=2)
    assert tolerant.pointing_accuracy > 0.9


@pytest.mark.parametrize(
    ("attr", "mask", "kwargs", "match"),
    [
        (torch.ones(2, 1, 8, 8), square_mask().float(), {}, "mask"),
        (torch.ones(2, 1, 8, 8), square_mask(3), {}, "mask"),
        (torch.ones(2, 1, 8, 8), torch.zeros(2, 1, 8, 8, dtype=torch.bool), {}, "mask"),
        (torch.ones(2, 8, 8), square_mask(), {}, "attribution"),
        (torch.ones(2, 1, 8, 8), square_mask(), {"mode": "signed"}, "mode"),
        (torch.ones(2, 1, 8, 8), square_mask(), {"tolerance": -1}, "tolerance"),
        (torch.full((2, 1, 8, 8), math.inf), square_mask(), {}, "attribution"),
    ],
)
def test_bad_input(attr, mask, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        localisation(attr, mask, **kwargs)
