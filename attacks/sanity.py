"""Sanity checks of an attack evaluation (Carlini et al. 2019, "On Evaluating Adversarial
Robustness", section 5; Athalye et al. 2018, "Obfuscated Gradients Give a False Sense of
Security"): properties every sound evaluation has, whose failure points at gradient masking
or a broken attack rather than at robustness.

- ``gradients_exist``: the input gradient of the margin loss ``max_{i != y} z_i - z_y`` at
  ``x`` is non-zero on every example. ``value`` is the share of examples with a non-zero
  gradient; passes at 1. Zero gradients (an input quantised with ``round``, a saturated
  softmax returned as logits) are "shattered" gradients: attacks cannot move, and the
  robust accuracy they report means nothing. A model whose output has no autograd path to
  its input at all (a forward that detaches or thresholds it) fails this check with that
  reason (``attacks.common.NO_GRADIENT``), value 0, and the five checks below are reported
  failed and not run (value ``None``) instead of raising: a white-box evaluation of it
  cannot be made, a black-box one is needed.

Checks 1 to 3 run cross-entropy PGD (Madry et al.) with step ``2.5 * eps / steps``, so that
every step budget can reach the boundary of the ball.

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

Checks 4 and 5 are unbounded: with Linf ``eps = 1`` any image can be turned into any other,
so a working attack must meet its goal on every example, and a miss is masking (or a broken
attack), never robustness. Both must be truly unbounded, or they cry wolf on a sound model:
they run PGD on the margin loss (Carlini and Wagner's, which does not saturate where a
confident softmax flattens cross-entropy) for ``max(steps, UNBOUNDED_STEPS)`` steps of
``2.5 / that`` (coarse sign steps oscillate around a target region), first from ``x``, then
``UNBOUNDED_RESTARTS`` times from random points within ``START_RADIUS`` of ``x`` (near
``x``, so that a random start alone cannot meet the goal: progress must come from the
gradient). Each run attacks only the examples no run has done yet, with early stop: any one
point that meets the goal proves it, so a sound model costs about one short run.

- ``unbounded_eps_zero_accuracy``: untargeted, must reach 0% accuracy. ``value`` is the
  accuracy; passes at exactly 0.
- ``targeted_reaches_target``: targeted toward ``(y + 1) mod K``, must reach the target on
  every example. ``value`` is the success rate; passes at 1.

Measured (128 test images, the default suite's settings): mnist_logreg, mnist_cnn,
mnist_cnn_at and shapes_cnn pass all six; shapes_cnn reached the target on 72.7% with the
former cross-entropy PGD from ``x`` at ``steps`` steps. ``mnist_cnn`` behind ``round`` or
behind ``softmax(100 * logits)`` fails ``gradients_exist`` (0 and 2 of 128 examples with a
gradient), keeps 96% accuracy unbounded and reaches the target on under 1%.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from attacks.common import (
    BATCH,
    NoGradientError,
    check_attack_inputs,
    input_gradient,
    logits_of,
    predict,
)
from attacks.common import random_start as sample_start
from attacks.fgsm import fgsm
from attacks.pgd import pgd
from attacks.robust_accuracy import robust_accuracy
from zoo.checks import check_generator
from zoo.guard import keeps_buffers, num_classes
from zoo.params import Budgets, Iterations, NonNegative, checked

#: least PGD steps of each run of the unbounded checks (4 and 5), whatever ``steps`` says
UNBOUNDED_STEPS = 100
#: runs of the unbounded checks after the one from ``x``, each from a random point near ``x``
UNBOUNDED_RESTARTS = 2
#: Linf radius of those random starts: enough to move off a kink, too little to fool
START_RADIUS = 0.05
#: the checks that attack, which a model without input gradients cannot have run
ATTACK_CHECKS = ("pgd_at_least_fgsm", "monotone_in_eps", "more_steps_no_better",
                 "unbounded_eps_zero_accuracy", "targeted_reaches_target")
#: the detail of those checks on such a model
NOT_RUN = "not run: the model has no input gradients to attack with (see gradients_exist)"


@dataclass(frozen=True)
class SanityCheck:
    """One check's outcome; ``value`` is the number it was decided on (see module doc),
    ``None`` for a check that could not run."""

    name: str
    passed: bool
    detail: str
    value: float | None


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
    """Run the six checks of the module doc on ``(x, y)``; Linf throughout. A model whose
    output has no autograd path to its input fails ``gradients_exist`` with the reason, and
    the checks that attack are reported as not run (failed), rather than raising.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "carlini_checks")
    generator = check_generator(generator, x)
    with warnings.catch_warnings():
        # warned once above by check_attack_inputs; the attacks would repeat it
        warnings.filterwarnings("ignore", message=".*training mode", category=RuntimeWarning)
        try:
            gradients = _gradients_exist(model, x, y)
        except NoGradientError as err:
            return [SanityCheck("gradients_exist", False, str(err), 0.0)] + [
                SanityCheck(name, False, NOT_RUN, None) for name in ATTACK_CHECKS]
        # the checks draw from ``generator`` in this order: 1 and 3 share their PGD runs
        first, runs = _pgd_at_least_fgsm(model, x, y, eps, steps, generator)
        curve = robust_accuracy(model, x, y, attack="pgd", eps=eps_grid, reuse=False,
                                generator=generator, rel_alpha=2.5 / steps, steps=steps)
        assert curve.raw_accuracy is not None
        keys = sorted(runs)
        return [
            gradients,
            first,
            _non_increasing("monotone_in_eps", "eps", eps_grid, curve.raw_accuracy, len(x)),
            _non_increasing("more_steps_no_better", "steps", keys,
                            [float(runs[s].float().mean()) for s in keys], len(x)),
            _unbounded(model, x, y, steps, generator),
            _targeted_unbounded(model, x, y, steps, generator),
        ]


def _gradients_exist(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> SanityCheck:
    """Check 0: the margin loss's input gradient at ``x`` is non-zero on every example.
    Raises ``NoGradientError`` when the output has no autograd path to the input."""
    nonzero = torch.cat([
        input_gradient(model, x[i : i + BATCH], y[i : i + BATCH], False, i == 0,
                       "margin")[0].flatten(1).ne(0).any(dim=1)
        for i in range(0, x.shape[0], BATCH)
    ])
    k, n = int(nonzero.sum()), x.shape[0]
    detail = f"the margin loss has a non-zero input gradient at x on {k} of {n} examples"
    if k < n:
        detail += (f"; {n - k} all-zero: gradients are masked there (shattered or saturated), "
                   "so gradient attacks cannot move and their accuracy is no evidence of "
                   "robustness")
    return SanityCheck("gradients_exist", k == n, detail, k / n)


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


def _unbounded_runs(
    model: nn.Module, x: torch.Tensor, goal: torch.Tensor, targeted: bool, steps: int,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, list[int], str]:
    """Margin-loss PGD at Linf eps 1 with early stop: one run from ``x``, then
    ``UNBOUNDED_RESTARTS`` from random points within ``START_RADIUS`` of ``x``, each on the
    examples no run has done yet. Returns which examples met the goal, how many each run
    added, and the attack in words."""
    n_steps = max(steps, UNBOUNDED_STEPS)
    alpha = 2.5 / n_steps
    done = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    added = []
    for run in range(1 + UNBOUNDED_RESTARTS):
        todo = (~done).nonzero().flatten()
        if todo.numel() == 0:
            break
        xs, gs = x[todo], goal[todo]
        start = xs if run == 0 else sample_start(xs, START_RADIUS, "linf", generator)
        x_adv = pgd(model, xs, gs, eps=1.0, alpha=alpha, steps=n_steps, random_start=False,
                    targeted=targeted, loss="margin", early_stop=True, x_init=start)
        pred = predict(model, x_adv, gs)
        hit = pred == gs if targeted else pred != gs
        done[todo[hit]] = True
        added.append(int(hit.sum()))
    how = (f"margin-loss PGD-{n_steps} (step {alpha:g}) at Linf eps 1 from x and up to "
           f"{UNBOUNDED_RESTARTS} random starts within {START_RADIUS:g} of x")
    return done, added, how


def _unbounded(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int,
               generator: torch.Generator | None) -> SanityCheck:
    """Check 4: unbounded PGD must leave no example correct."""
    done, added, how = _unbounded_runs(model, x, y, False, steps, generator)
    acc = 1.0 - float(done.float().mean())
    return SanityCheck(
        "unbounded_eps_zero_accuracy", acc == 0.0,
        f"{how} leaves accuracy {acc:.3f} (must be 0); fooled by each run: "
        f"{', '.join(map(str, added))}", acc)


def _targeted_unbounded(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int,
                        generator: torch.Generator | None) -> SanityCheck:
    """Check 5: unbounded targeted PGD must reach ``(y + 1) mod K`` on every example."""
    k = num_classes(model) or logits_of(model, x[:1], y[:1]).shape[1]
    target = (y + 1) % k
    done, added, how = _unbounded_runs(model, x, target, True, steps, generator)
    rate = float(done.float().mean())
    return SanityCheck(
        "targeted_reaches_target", rate == 1.0,
        f"targeted {how} toward (y+1) mod {k} reaches the target on {rate:.3f} (must be 1); "
        f"reached by each run: {', '.join(map(str, added))}", rate)
