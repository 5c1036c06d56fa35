"""Sanity checks of an attack evaluation (Carlini et al. 2019, "On Evaluating Adversarial
Robustness", section 5): properties every sound evaluation has, whose failure points at
gradient masking or a broken attack rather than at robustness.

All checks run PGD (Madry et al.) with step ``2.5 * eps / steps``, so that every step budget
can reach the boundary of the ball.

- ``pgd_at_least_fgsm``: an iterative attack is at least as strong as a single step; per
  example, every clean-correct example that FGSM fools at ``eps``, PGD at ``eps`` fools too.
  ``value`` is the number of violations; passes at 0. PGD starts at a random point, which
  can in principle miss an example FGSM's exact step catches, so a violation is a strong
  hint, not a proof.
- ``monotone_in_eps``: raw per-eps PGD accuracy (each budget attacked independently; see
  ``attacks.robust_accuracy``) does not rise with ``eps``. ``value`` is the largest rise;
  passes at 0 or one example's worth (``1 / N``), because random starts make two
  independent runs at nearly equal budgets differ by an example or so.
- ``more_steps_no_better``: PGD accuracy at 1, 10 and ``steps`` steps does not rise, same
  tolerance and ``value`` as above.
- ``unbounded_eps_zero_accuracy``: with Linf ``eps = 1`` any image can be turned into any
  other, so PGD from ``x`` (no random start: all progress must come from the gradient) must
  reach 0% accuracy. ``value`` is the accuracy; passes at exactly 0.
- ``targeted_reaches_target``: targeted PGD at ``eps = 1`` toward ``(y + 1) mod K`` from
  ``x`` must reach the target on every example. ``value`` is the success rate; passes at 1.

The last two use early stop: an iterate that met the goal is kept, since any one point that
meets it proves the point.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from attacks.common import check_attack_inputs, logits_of, predict
from attacks.fgsm import fgsm
from attacks.pgd import pgd
from attacks.robust_accuracy import robust_accuracy
from zoo.checks import check_generator
from zoo.guard import keeps_buffers, num_classes
from zoo.params import Budgets, Iterations, NonNegative, checked


@dataclass(frozen=True)
class SanityCheck:
    """One check's outcome; ``value`` is the number it was decided on (see module doc)."""

    name: str
    passed: bool
    detail: str
    value: float


def _non_increasing(name: str, what: str, keys: Sequence[float], acc: Sequence[float],
                    n: int) -> SanityCheck:
    rise = max([b - a for a, b in zip(acc, acc[1:], strict=False)] + [0.0])
    tolerance = 1.0 / n + 1e-9
    pairs = ", ".join(f"{k:g}: {a:.3f}" for k, a in zip(keys, acc, strict=True))
    return SanityCheck(name, rise <= tolerance,
                       f"PGD accuracy by {what}: {pairs}; largest rise {rise:.3f} "
                       f"(tolerance {1.0 / n:.3f}, one example)", rise)


@keeps_buffers
@checked
def carlini_checks(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: NonNegative,
    eps_grid: Budgets,
    steps: Iterations = 40,
    generator: torch.Generator | None = None,
) -> list[SanityCheck]:
    """Run the five checks of the module doc on ``(x, y)``; Linf throughout.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "carlini_checks")
    generator = check_generator(generator, x)
    with warnings.catch_warnings():
        # warned once above by check_attack_inputs; the attacks would repeat it
        warnings.filterwarnings("ignore", message=".*training mode", category=RuntimeWarning)
        # the checks draw from ``generator`` in this order: 1 and 3 share their PGD runs
        first, runs = _pgd_at_least_fgsm(model, x, y, eps, steps, generator)
        curve = robust_accuracy(model, x, y, attack="pgd", eps=eps_grid, reuse=False,
                                generator=generator, rel_alpha=2.5 / steps, steps=steps)
        assert curve.raw_accuracy is not None
        keys = sorted(runs)
        return [
            first,
            _non_increasing("monotone_in_eps", "eps", eps_grid, curve.raw_accuracy, len(x)),
            _non_increasing("more_steps_no_better", "steps", keys,
                            [float(runs[s].float().mean()) for s in keys], len(x)),
            _unbounded(model, x, y, steps),
            _targeted_unbounded(model, x, y, steps),
        ]


def _pgd_at_least_fgsm(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int,
    generator: torch.Generator | None,
) -> tuple[SanityCheck, dict[int, torch.Tensor]]:
    """Check 1 (per example), and which examples PGD at 1, 10 and ``steps`` steps leaves
    correct (check 3 reads them)."""
    correct = predict(model, x, y) == y
    fgsm_fooled = correct & (predict(model, fgsm(model, x, y, eps=eps), y) != y)
    runs = {}
    for s in sorted({1, 10, steps}):
        x_adv = pgd(model, x, y, eps=eps, alpha=2.5 * eps / s, steps=s, generator=generator)
        runs[s] = predict(model, x_adv, y) == y
    pgd_fooled = correct & ~runs[steps]
    missed = int((fgsm_fooled & ~pgd_fooled).sum())
    return SanityCheck(
        "pgd_at_least_fgsm", missed == 0,
        f"eps {eps:g}: FGSM fools {int(fgsm_fooled.sum())}, PGD-{steps} fools "
        f"{int(pgd_fooled.sum())} of {int(correct.sum())} clean-correct; {missed} fooled "
        "by FGSM but not by PGD", float(missed)), runs


def _unbounded(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> SanityCheck:
    """Check 4: PGD at Linf eps 1 from ``x`` must leave no example correct."""
    x_adv = pgd(model, x, y, eps=1.0, alpha=2.5 / steps, steps=steps, random_start=False,
                early_stop=True)
    acc = float((predict(model, x_adv, y) == y).float().mean())
    return SanityCheck(
        "unbounded_eps_zero_accuracy", acc == 0.0,
        f"PGD-{steps} at Linf eps 1 from x leaves accuracy {acc:.3f} (must be 0)", acc)


def _targeted_unbounded(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                        steps: int) -> SanityCheck:
    """Check 5: targeted PGD at Linf eps 1 must reach ``(y + 1) mod K`` on every example."""
    k = num_classes(model) or logits_of(model, x[:1], y[:1]).shape[1]
    target = (y + 1) % k
    x_adv = pgd(model, x, target, eps=1.0, alpha=2.5 / steps, steps=steps,
                random_start=False, targeted=True, early_stop=True)
    rate = float((predict(model, x_adv, y) == target).float().mean())
    return SanityCheck(
        "targeted_reaches_target", rate == 1.0,
        f"targeted PGD-{steps} at Linf eps 1 toward (y+1) mod {k} reaches the "
        f"target on {rate:.3f} (must be 1)", rate)
