"""Minimal perturbations: per example the smallest adversarial perturbation a
minimal-perturbation attack (FAB, DeepFool, Carlini-Wagner; ``AttackInfo.minimal``) finds,
and the whole robust-accuracy curve read off those norms at no extra cost.

An example is robust at ``eps`` iff the model is right on it and the smallest adversarial
perturbation found is larger than ``eps``: ``robust(eps) = clean_correct & (norm > eps)``.
The attack runs once, without a budget; every budget of a grid is then a comparison. The
norms are upper bounds of the true minimal ones (an attack can only miss smaller
perturbations), so the curve, like every attack's, is an upper bound of robust accuracy.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from attacks.common import Norm, perturbation_norm
from attacks.registry import AttackInfo, get_attack, list_attacks
from attacks.robust_accuracy import Counting
from zoo.checks import check_choice, check_generator, check_images, check_labels
from zoo.guard import check_model, keeps_buffers, num_classes, warn_if_training
from zoo.params import PositiveInt, checked

#: a perturbation this much over ``eps`` still counts as inside the ball (float rounding of a
#: point on the sphere), as in ``attacks.common.within_budget``
TOLERANCE = 1e-6
#: the quantiles a report shows of the norms over the clean-correct examples
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class MinimalPerturbation:
    """The smallest adversarial perturbation per example, and what finding them cost.

    - ``norms``: float64 ``(N,)``, the size (in ``norm``) of the smallest adversarial
      perturbation found; ``0`` where the model is already wrong on the clean image, ``inf``
      where the attack found none.
    - ``clean_correct``: bool ``(N,)``.
    - ``gradient_passes`` / ``forward_passes``: image evaluations, counted per image, as in
      ``attacks.RobustAccuracy``.
    """

    attack: str
    norm: str
    norms: torch.Tensor
    clean_correct: torch.Tensor
    gradient_passes: int
    forward_passes: int
    seconds: float

    @property
    def clean_accuracy(self) -> float:
        return float(self.clean_correct.float().mean())

    @property
    def success_rate(self) -> float | None:
        """Share of the clean-correct examples the attack fooled at some size."""
        found = torch.isfinite(self.norms[self.clean_correct])
        return float(found.float().mean()) if found.numel() else None

    def robust(self, eps: float) -> torch.Tensor:
        """Bool ``(N,)``: robust at ``eps``."""
        return self.clean_correct & (self.norms > eps + TOLERANCE)

    def accuracy(self, grid: Sequence[float]) -> tuple[float, ...]:
        """Robust accuracy at every budget of ``grid``."""
        return tuple(float(self.robust(e).float().mean()) for e in grid)

    def fooled_at(self, grid: Sequence[float]) -> torch.Tensor:
        """Int64 ``(N,)``: the index into the ascending ``grid`` of the first budget that
        holds the example's perturbation, ``-1`` where none does and for every
        clean-misclassified example (``attacks.RobustAccuracy.fooled_at``'s convention)."""
        out = torch.full(self.norms.shape, -1, dtype=torch.int64)
        for k in reversed(range(len(grid))):
            out[self.clean_correct & ~self.robust(grid[k])] = k
        return out

    def quantiles(self, qs: Sequence[float] = QUANTILES) -> dict[float, float] | None:
        """Quantiles of the norms over the clean-correct examples (``inf`` where the attack
        found nothing, so a quantile beyond the success rate is ``inf``); ``None`` when no
        example is clean-correct."""
        sizes = self.norms[self.clean_correct]
        if not sizes.numel():
            return None
        return {q: float(torch.quantile(sizes, q, interpolation="lower")) for q in qs}


def minimal_only(attack: object) -> AttackInfo:
    """The registered attack ``attack`` names, refused unless it is a minimal-perturbation
    attack."""
    if not isinstance(attack, str):
        raise KeyError(f"attack must be a registered attack name, got {attack!r}")
    info = get_attack(attack)
    if not info.minimal:
        minimal = [n for n in list_attacks() if get_attack(n).minimal]
        raise ValueError(f"attack {attack!r} is not a minimal-perturbation attack (it needs a "
                         f"budget eps); minimal ones: {', '.join(minimal) or 'none'}")
    return info


@keeps_buffers
@checked
def minimal_perturbation(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    attack: str,
    norm: Norm = "l2",
    batch_size: PositiveInt = 256,
    generator: torch.Generator | None = None,
    **settings: Any,
) -> MinimalPerturbation:
    """The smallest adversarial perturbation the minimal-perturbation ``attack`` finds on
    each example, in ``norm``, untargeted. ``settings`` are the attack's own (``steps``...),
    checked against its signature before any work.

    Only clean-correct examples are attacked. A point the attack returns counts only if the
    model really misclassifies it (checked with one forward pass), so an attack that gives up
    on an example leaves it at ``inf``.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``.
    """
    started = time.perf_counter()
    info = minimal_only(attack)
    check_choice(norm, "norm", info.norms)
    settings = info.check_settings(settings)
    model = check_model(model)
    x = check_images(x)
    y = check_labels(y, x.shape[0], num_classes(model)).to(x.device, torch.int64)
    generator = check_generator(generator, x)
    warn_if_training(model, "minimal_perturbation")

    counted = Counting(model)
    fixed = {k: v for k, v in (("norm", norm), ("generator", generator)) if info.takes(k)}
    kwargs = {**info.kwargs(settings), **fixed}  # no eps: no budget, the smallest found
    n = x.shape[0]
    norms = torch.zeros(n, dtype=torch.float64)
    clean_correct = torch.zeros(n, dtype=torch.bool)
    with warnings.catch_warnings():
        # warned once above; the attack would repeat it for every batch
        warnings.filterwarnings("ignore", message=".*training mode", category=RuntimeWarning)
        for start in range(0, n, batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            with torch.no_grad():
                right = counted(xb).argmax(dim=1) == yb
            sizes = torch.zeros(xb.shape[0], dtype=torch.float64, device=x.device)
            idx = right.nonzero().flatten()
            if idx.numel():
                x_adv = info.fn(counted, xb[idx], yb[idx], **kwargs)
                with torch.no_grad():
                    fooled = counted(x_adv).argmax(dim=1) != yb[idx]
                found = perturbation_norm(x_adv - xb[idx], norm).double()
                sizes[idx] = torch.where(fooled, found, torch.full_like(found, math.inf))
            norms[start : start + xb.shape[0]] = sizes.cpu()
            clean_correct[start : start + xb.shape[0]] = right.cpu()
    if x.is_cuda:
        torch.cuda.synchronize(x.device)
    return MinimalPerturbation(
        attack=info.name, norm=norm, norms=norms, clean_correct=clean_correct,
        gradient_passes=counted.gradient_passes, forward_passes=counted.forward_passes,
        seconds=time.perf_counter() - started,
    )
