"""Saliency segmentation: the largest component of the thresholded map, IoU computed by hand
on two blobs, and shapes_cnn saliency against a random map."""

from __future__ import annotations

import pytest
import torch

import attribution
from attribution.metrics import saliency_segmentation, segmentation_iou


def two_blobs() -> torch.Tensor:
    """10x10 map: a 3x3 blob of 1s (rows 1-3, cols 1-3), a hotter 2x2 blob of 2s
    (rows 6-7, cols 6-7), zero elsewhere."""
    attr = torch.zeros(1, 1, 10, 10)
    attr[0, 0, 1:4, 1:4] = 1.0
    attr[0, 0, 6:8, 6:8] = 2.0
    return attr


def test_keeps_the_larger_blob_and_iou_by_hand() -> None:
    # top 20% = 20 pixels, but only the 13 blob pixels score above 0: both blobs pass the
    # threshold and the larger (9 pixels), not the hotter, is kept
    seg = saliency_segmentation(two_blobs())
    expected = torch.zeros(1, 1, 10, 10, dtype=torch.bool)
    expected[0, 0, 1:4, 1:4] = True
    assert torch.equal(seg, expected)
    mask = torch.zeros(1, 1, 10, 10, dtype=torch.bool)
    mask[0, 0, 1:5, 1:5] = True  # 16 pixels holding the 9-pixel blob: IoU 9 / 16
    result = segmentation_iou(two_blobs(), mask)
    assert result.iou.item() == pytest.approx(9 / 16)
    assert result.mean_iou == pytest.approx(9 / 16)
    # the top 4% (4 pixels) is the hot blob only: disjoint from the mask
    assert segmentation_iou(two_blobs(), mask, fraction=0.04).iou.item() == 0.0


def test_diagonal_neighbours_are_one_component() -> None:
    attr = torch.zeros(1, 1, 6, 6)
    for i in range(4):
        attr[0, 0, i, i] = 1.0  # a diagonal line of 4
    attr[0, 0, 0, 5] = attr[0, 0, 1, 5] = attr[0, 0, 2, 5] = 1.0  # a column of 3
    seg = saliency_segmentation(attr, fraction=0.5)
    assert int(seg.sum()) == 4 and bool(seg[0, 0, 3, 3])


def test_signed_maps_and_channels() -> None:
    attr = -two_blobs().repeat(1, 3, 1, 1)
    assert int(saliency_segmentation(attr, absolute=True).sum()) == 9
    # signed: no pixel scores above 0, nothing is segmented
    assert int(saliency_segmentation(attr, absolute=False).sum()) == 0


def test_saliency_beats_random_on_shapes(shapes, shapes_cnn) -> None:
    x, y, mask = shapes
    sal = segmentation_iou(attribution.saliency(shapes_cnn, x, y), mask)
    rand = segmentation_iou(torch.rand(x.shape, generator=torch.Generator().manual_seed(0)),
                            mask)
    # measured on these 128 images: 0.43 vs 0.02 (a uniform map keeps the whole image and
    # scores the area fraction, 0.16)
    assert sal.mean_iou > 0.3
    assert rand.mean_iou < 0.1
    assert sal.masks.shape == mask.shape and sal.masks.dtype == torch.bool


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"fraction": 0}, "fraction"), ({"fraction": 1.5}, "fraction"),
     ({"absolute": "yes"}, "absolute")],
)
def test_bad_input(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        saliency_segmentation(two_blobs(), **kwargs)
    with pytest.raises(ValueError, match="mask"):
        segmentation_iou(two_blobs(), torch.ones(1, 1, 9, 9, dtype=torch.bool))
