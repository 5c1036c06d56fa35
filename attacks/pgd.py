"""Projected Gradient Descent (Madry et al. 2018, "Towards Deep Learning Models Resistant to
Adversarial Attacks"): BIM from a random point of the ball, in Linf or L2, with restarts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import nn

from attacks.common import (
    Loss,
    Norm,
    StepSize,
    attack_objective,
    check_attack_inputs,
    check_start,
    expected_logits,
    fooled,
)
from attacks.common import (
    random_start as sample_start,
)
from attacks.loop import iterate
from attacks.registry import register
from zoo.checks import check_generator
from zoo.params import Iterations, NonNegative, PositiveInt


@register("pgd", paper="Madry et al. 2018")
def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: NonNegative,
    alpha: StepSize,
    steps: Iterations,
    norm: Norm = "linf",
    random_start: bool = True,
    restarts: PositiveInt = 1,
    targeted: bool = False,
    loss: Loss = "ce",
    generator: torch.Generator | None = None,
    early_stop: bool = False,
    x_init: torch.Tensor | None = None,
    eot_samples: PositiveInt = 1,
) -> torch.Tensor:
    """PGD with ``restarts`` runs; each example keeps its worst case over the runs.

    ``x_init``: the first run starts there (projected into the ball) instead of at a random
    point, e.g. a smaller budget's adversarial example; later restarts start at random.

    ``loss``: ``"ce"`` (cross-entropy, Madry et al.'s) or ``"margin"`` (the logit margin
    ``max_{i != y} z_i - z_y``, Carlini and Wagner's, which does not saturate where a
    confident softmax flattens cross-entropy); targeted, the target's loss goes down.

    ``eot_samples``: Expectation over Transformation (Athalye et al. 2018) for randomised
    models: every step follows the mean input gradient of that many forward/backward passes,
    and the logits that judge early stop and the restarts are means over as many passes. A
    run then costs ``steps * eot_samples`` gradient passes; the default 1 is plain PGD.

    Worst case: a run that meets the goal wins over one that does not; among equals, the
    higher loss (untargeted) or the lower loss to the target (targeted) wins.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "pgd")
    generator = check_generator(generator, x)
    init = check_start(x_init, x, eps, norm)
    if eps == 0:
        return x.detach().clone()

    def runs() -> Iterator[torch.Tensor]:
        for run in range(restarts):
            if run == 0 and init is not None:
                start = init
            else:
                start = sample_start(x, eps, norm, generator) if random_start else x
            yield iterate(
                model, x, y, start, eps=eps, alpha=alpha, steps=steps, norm=norm,
                targeted=targeted, early_stop=early_stop, loss=loss, eot_samples=eot_samples,
            )

    if restarts == 1:
        return next(runs())
    return worst_case(model, x, y, runs(), targeted=targeted, loss=loss,
                      eot_samples=eot_samples)


def worst_case(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, runs: Iterable[torch.Tensor], *,
    targeted: bool, loss: str = "ce", eot_samples: int = 1,
) -> torch.Tensor:
    """Per example the worst case for ``model`` over the adversarial batches ``runs`` yields
    (one forward pass of ``model`` per run, ``eot_samples`` for a randomised one): a point
    that meets the goal wins over one that does not; among equals, the higher attacker's
    objective (``attacks.common.attack_objective``) wins; ``x`` when there is no run."""
    best = x.detach().clone()
    best_fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    best_objective = torch.full((x.shape[0],), -torch.inf, device=x.device)
    for x_adv in runs:
        logits = expected_logits(model, x_adv, y, eot_samples)
        is_fooled = fooled(logits, y, targeted)
        objective = attack_objective(logits, y, targeted, loss)
        # success dominates; among equals the attacker's objective decides
        better = (is_fooled & ~best_fooled) | (
            (is_fooled == best_fooled) & (objective > best_objective)
        )
        best[better] = x_adv[better]
        best_fooled = best_fooled | is_fooled
        best_objective = torch.where(better, objective, best_objective)
    return best
