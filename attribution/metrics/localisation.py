"""Localisation scores of attribution maps against ground-truth object masks (the ``shapes``
dataset ships them).

Two numbers per image: the share of the map's mass that falls inside the object mask (the
"energy-based pointing game" of Wang et al. 2020, Score-CAM; a map uniform over the image
scores the mask's area fraction, a map equal to the mask scores 1), and the pointing game of
Zhang, Lin, Brandt, Shen and Sclaroff 2016 ("Top-down Neural Attention by Excitation
Backprop"): is the map's maximum on the object, allowing a tolerance of a few pixels
(they used 15 pixels on ImageNet-size images)?
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from attribution.metrics._maps import check_maps, check_mask
from zoo.checks import check_choice, check_count


@dataclass(frozen=True)
class LocalisationResult:
    """Per-image scores and their means.

    ``mass_inside``: share of the (positive or absolute) attribution mass inside the mask,
    NaN for an image whose map has no such mass (excluded from ``mean_mass_inside``).
    ``pointing``: 1 when the map's maximum lies in the (dilated) mask, 0 when not; when
    several pixels tie for the maximum, the share of them that does (the expected hit of a
    random tie-break, so a constant map scores the mask's area fraction).

    Shape:
        - mass_inside, pointing: ``(N,)``.
    """

    mass_inside: torch.Tensor
    pointing: torch.Tensor
    mean_mass_inside: float
    pointing_accuracy: float


def _dilate(mask: torch.Tensor, tolerance: int) -> torch.Tensor:
    """Grow the mask by a disc of radius ``tolerance`` pixels (Euclidean distance)."""
    if tolerance == 0:
        return mask
    r = torch.arange(-tolerance, tolerance + 1, device=mask.device, dtype=torch.float32)
    disc = (r.view(-1, 1) ** 2 + r.view(1, -1) ** 2 <= tolerance**2).float()
    grown = F.conv2d(mask.float(), disc.view(1, 1, *disc.shape), padding=tolerance)
    return grown > 0


def localisation(
    attribution: torch.Tensor,
    mask: torch.Tensor,
    *,
    mode: str = "positive",
    tolerance: int = 0,
) -> LocalisationResult:
    """Mass inside the mask and the pointing game.

    ``mode``: ``"positive"`` scores the positive part of the channel-summed map (evidence
    *for* the target, as in Score-CAM's energy game); ``"absolute"`` the channel sum of
    ``|attribution|`` (for unsigned maps such as saliency). The pointing game looks for the
    maximum of the same score. ``tolerance``: pixels a maximum may lie outside the object
    and still count as a hit.

    Shape:
        - attribution: ``(N, C, H, W)`` or ``(N, 1, H, W)``; mask: bool ``(N, 1, H, W)``.
    """
    attribution = check_maps(attribution)
    mask = check_mask(mask, attribution)
    check_choice(mode, "mode", ("positive", "absolute"))
    check_count(tolerance, "tolerance", minimum=0)

    if mode == "absolute":
        score = attribution.abs().sum(dim=1)  # (N, H, W)
    else:
        score = attribution.sum(dim=1).clamp(min=0)
    inside = mask.squeeze(1)
    total = score.flatten(1).sum(1).double()
    mass = torch.where(total > 0, (score * inside).flatten(1).sum(1).double() / total,
                       torch.full_like(total, math.nan))

    flat = score.flatten(1)
    top = flat == flat.max(dim=1, keepdim=True).values  # (N, HW): every tied maximum
    near = _dilate(mask, tolerance).flatten(1)
    pointing = (top & near).sum(1).double() / top.sum(1).double()

    valid = ~torch.isnan(mass)
    mean_mass = float(mass[valid].mean()) if bool(valid.any()) else math.nan
    return LocalisationResult(mass.cpu(), pointing.cpu(), mean_mass, float(pointing.mean()))
