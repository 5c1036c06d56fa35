"""Saliency-based weakly supervised segmentation (Simonyan, Vedaldi and Zisserman 2014,
"Deep Inside Convolutional Networks", section 3.2, and the lecture's example): threshold the
map, keep its largest connected component as the object, and score the result by
intersection over union (IoU) with the ground-truth mask. Simonyan et al. fed such
thresholded maps to GrabCut as seeds; here the component itself is the segmentation, so the
number measures how well the map alone outlines the object (1 = exactly, 0 = disjoint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from attribution.metrics._maps import check_flag, check_maps, check_mask, pixel_scores

# 8-connectivity: pixels touching at a corner belong to one object (thin diagonal strokes,
# the corners of a rotated shape)
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class SegmentationResult:
    """The predicted masks, their IoU with the ground truth, and its mean.

    Shape:
        - masks: bool ``(N, 1, H, W)``; iou: ``(N,)``.
    """

    masks: torch.Tensor
    iou: torch.Tensor
    mean_iou: float


def saliency_segmentation(
    attribution: torch.Tensor, *, fraction: float = 0.2, absolute: bool = True
) -> torch.Tensor:
    """The largest connected component of the top ``fraction`` of pixels.

    Pixels are scored by the channel sum of ``|attribution|`` (of the signed map when not
    ``absolute``). The default keeps the top 20% of pixels: the ``shapes`` objects cover
    16% of the image on average (5% to 32%, test split), so a threshold near the object's
    size lets a perfect map reach an IoU near 1, and 20% errs on the side of covering the
    whole object before the largest component trims the stray pixels. Pixels
    tied with the threshold are kept; pixels scoring 0 or less never are (no evidence).

    Shape:
        - attribution: ``(N, C, H, W)`` or ``(N, 1, H, W)``; returns bool ``(N, 1, H, W)``.
    """
    attribution = check_maps(attribution)
    if not (isinstance(fraction, (int, float)) and not isinstance(fraction, bool)
            and 0 < fraction <= 1):
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    check_flag(absolute, "absolute")
    score = pixel_scores(attribution, absolute).double().cpu()  # (N, H, W)
    n, h, w = score.shape
    k = max(1, math.ceil(fraction * h * w))
    threshold = score.flatten(1).topk(k, dim=1).values[:, -1]  # k-th largest per image
    keep = (score >= threshold.view(-1, 1, 1)) & (score > 0)
    out = np.zeros((n, h, w), dtype=bool)
    for i, image in enumerate(keep.numpy()):
        labels, count = ndimage.label(image, structure=_EIGHT)
        if count == 0:
            continue
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        # ties between equally large components go to the first in raster order
        out[i] = labels == 1 + int(np.argmax(sizes))
    return torch.from_numpy(out).unsqueeze(1).to(attribution.device)


def segmentation_iou(
    attribution: torch.Tensor, mask: torch.Tensor, *, fraction: float = 0.2,
    absolute: bool = True,
) -> SegmentationResult:
    """IoU of ``saliency_segmentation(attribution)`` with the object ``mask``.

    Shape:
        - attribution: ``(N, C, H, W)`` or ``(N, 1, H, W)``; mask: bool ``(N, 1, H, W)``.
    """
    attribution = check_maps(attribution)
    mask = check_mask(mask, attribution)
    pred = saliency_segmentation(attribution, fraction=fraction, absolute=absolute)
    inter = (pred & mask).flatten(1).sum(1).double()
    union = (pred | mask).flatten(1).sum(1).double()
    iou = inter / union  # the mask is never empty, so union > 0
    return SegmentationResult(pred.cpu(), iou.cpu(), float(iou.mean()))
