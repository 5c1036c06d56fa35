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

from attacks.common import check_attack_inputs, check_generator, logits_of
from attacks.fgsm import fgsm
from attacks.pgd import pgd
from attacks.robust_accuracy import robust_accuracy
from zoo.checks import check_count, check_eps_grid
from zoo.guard import num_classes

_BATCH = 256


@dataclass(frozen=True)
class SanityCheck:
    """One check's outcome; ``value`` is the number it was decided on (see module doc)."""

    name: str
    passed: bool
    detail: str
    value: float


def _predict(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([
            logits_of(model, x[i : i + _BATCH], y[i : i + _BATCH]).argmax(dim=1)
            for i in range(0, x.shape[0], _BATCH)
        ])


def _non_increasing(name: str, what: str, keys: Sequence[float], acc: Sequence[float],
                    n: int) -> SanityCheck:
    rise = max([b - a for a, b in zip(acc, acc[1:], strict=False)] + [0.0])
    tolerance = 1.0 / n + 1e-9
    pairs = ", ".join(f"{k:g}: {a:.3f}" for k, a in zip(keys, acc, strict=True))
    return SanityCheck(name, rise <= tolerance,
                       f"PGD accuracy by {what}: {pairs}; largest rise {rise:.3f} "
                       f"(tolerance {1.0 / n:.3f}, one example)", rise)


def carlini_checks(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    eps_grid: Sequence[float],
    steps: int = 40,
    generator: torch.Generator | None = None,
) -> list[SanityCheck]:
    """Run the five checks of the module doc on ``(x, y)``; Linf throughout.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``.
    """
    model, x, y, eps = check_attack_inputs(model, x, y, eps, "carlini_checks")
    grid = check_eps_grid(eps_grid, "eps_grid")
    steps = check_count(steps, "steps", minimum=1)
    generator = check_generator(generator, x)
    n = x.shape[0]
    checks = []
    with warnings.catch_warnings():
        # warned once above by check_attack_inputs; the attacks would repeat it
        warnings.filterwarnings("ignore", message=".*training mode", category=RuntimeWarning)
        correct = _predict(model, x, y) == y

        # 1. iterative >= single step, per example
        fgsm_fooled = correct & (_predict(model, fgsm(model, x, y, eps=eps), y) != y)
        runs = {}
        for s in sorted({1, 10, steps}):
            x_adv = pgd(model, x, y, eps=eps, alpha=2.5 * eps / s, steps=s,
                        generator=generator)
            runs[s] = _predict(model, x_adv, y) == y
        pgd_fooled = correct & ~runs[steps]
        missed = int((fgsm_fooled & ~pgd_fooled).sum())
        checks.append(SanityCheck(
            "pgd_at_least_fgsm", missed == 0,
            f"eps {eps:g}: FGSM fools {int(fgsm_fooled.sum())}, PGD-{steps} fools "
            f"{int(pgd_fooled.sum())} of {int(correct.sum())} clean-correct; {missed} fooled "
            "by FGSM but not by PGD", float(missed)))

        # 2. raw accuracy falls with eps
        curve = robust_accuracy(model, x, y, attack="pgd", eps=grid, reuse=False,
                                generator=generator, rel_alpha=2.5 / steps, steps=steps)
        assert curve.raw_accuracy is not None
        checks.append(_non_increasing("monotone_in_eps", "eps", grid, curve.raw_accuracy, n))

        # 3. more steps never help the model
        keys = sorted(runs)
        checks.append(_non_increasing("more_steps_no_better", "steps", keys,
                                      [float(runs[s].float().mean()) for s in keys], n))

        # 4. an unbounded attack wins
        x_adv = pgd(model, x, y, eps=1.0, alpha=2.5 / steps, steps=steps, random_start=False,
                    early_stop=True)
        acc = float((_predict(model, x_adv, y) == y).float().mean())
        checks.append(SanityCheck(
            "unbounded_eps_zero_accuracy", acc == 0.0,
            f"PGD-{steps} at Linf eps 1 from x leaves accuracy {acc:.3f} (must be 0)", acc))

        # 5. an unbounded targeted attack reaches any target
        k = num_classes(model) or logits_of(model, x[:1], y[:1]).shape[1]
        target = (y + 1) % k
        x_adv = pgd(model, x, target, eps=1.0, alpha=2.5 / steps, steps=steps,
                    random_start=False, targeted=True, early_stop=True)
        rate = float((_predict(model, x_adv, y) == target).float().mean())
        checks.append(SanityCheck(
            "targeted_reaches_target", rate == 1.0,
            f"targeted PGD-{steps} at Linf eps 1 toward (y+1) mod {k} reaches the "
            f"target on {rate:.3f} (must be 1)", rate))
    return checks
