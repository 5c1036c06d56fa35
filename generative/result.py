"""What every generative method returns: the image, the objective per step, and the settings
it ran with, in one small frozen record."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True, eq=False)
class GenResult:
    """The outcome of one optimisation over images.

    ``losses`` is the objective being minimised: ``losses[0]`` at the starting image and
    ``losses[i]`` after step ``i`` (DeepDream concatenates one such trace per octave);
    ``terms`` holds its weighted parts under their names (they sum to ``losses``).
    ``evaluations`` counts forward+backward passes of the model (L-BFGS makes several per
    step). ``settings`` names the method and every
    hyperparameter it ran with.

    Shape:
        - image: ``(N, C, H, W)`` in ``[0, 1]`` (NaN where a run blew up);
          losses and each term: ``(steps + 1,)``, float64 on the CPU.
    """

    image: torch.Tensor
    losses: torch.Tensor
    settings: Mapping[str, Any]
    terms: Mapping[str, torch.Tensor] = field(default_factory=dict)
    evaluations: int = 0

    @property
    def failed_step(self) -> int | None:
        """The first step after which the objective was NaN or infinite (an index into
        ``losses``: 0 is the start); the last index when only the final image is;
        ``None`` when every value stayed finite."""
        bad = (~torch.isfinite(self.losses)).nonzero()
        if bad.numel():
            return int(bad[0, 0])
        if not bool(torch.isfinite(self.image).all()):
            return max(int(self.losses.numel()) - 1, 0)
        return None

    @property
    def finite(self) -> bool:
        return self.failed_step is None

    @property
    def improved(self) -> bool:
        """The objective went down over the run (and stayed finite)."""
        if not self.finite or self.losses.numel() < 2:
            return False
        return float(self.losses[-1]) < float(self.losses[0])

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1]) if self.losses.numel() else math.nan
