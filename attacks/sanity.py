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
  reason (``attacks.common.NO_GRADIENT``), value 0, and checks 1 to 5 below are reported
  failed and not run (value ``None``) instead of raising: a white-box evaluation of it
  cannot be made. The black-box checks 6 to 8 still run on it.

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

Checks 6 to 8 compare the white-box attack with attacks that need no gradient (Carlini et al.
section 5.2; Athalye et al. section 3): on a sound model nothing weaker than PGD beats it, so
an attack that fools examples PGD left correct shows that PGD was blind there. Each attacks
only the clean-correct examples that PGD-``steps`` at ``eps`` (the run of check 1) leaves
correct, and ``value`` is the number of them it fools. On a model without input gradients
PGD counts as fooling none (its accuracy is the clean one), and the detail says so. They pass
while that number is at most ``slack(m) = max(SLACK_EXAMPLES, SLACK_SHARE * m)`` of the ``m``
examples (2, or 5%): room for a random start that missed an example or two, far below what
masking gives (most of the examples).

- ``black_box_not_stronger``: score-based Square (``attacks.square``, L∞, margin loss,
  ``SQUARE_QUERIES`` = 300 queries per example). 300, not AutoAttack's 5,000: every example
  a robust model keeps costs every query (about 300 forward passes of those examples, 1.2
  times the cost of checks 0 to 5 on mnist_cnn_at), and masking shows within the first
  hundred (round(4x)/4 in front of mnist_cnn: 90 of 123 fooled at 100 queries, 120 at 300,
  123 at 1,000; a thermometer: 120, 125, 125).
- ``transfer_not_stronger``: only with a ``surrogate`` (left out of the list without one):
  PGD-``steps`` (same step) made on the surrogate, evaluated on the model.
- ``random_search_not_stronger``: ``RANDOM_VERTICES`` = 100 random vertices ``x +- eps`` of
  the ball per example, one random sign per channel and square tile, the tile's side
  cycling through 1/16, 1/8, 1/4 and 1/2 of the image's side and single pixels. Per-pixel
  signs alone are a feeble probe (a convolution averages them away: they fooled 18 of 124 of
  mnist_cnn's default-suite images at eps 0.3, the tiles 90); tiles stay far weaker than
  PGD on a sound model (0 of mnist_cnn_at's 107).

Measured (128 test images, the default suite's settings): mnist_logreg, mnist_cnn,
mnist_cnn_at and shapes_cnn pass all eight; shapes_cnn reached the target on 72.7% with the
former cross-entropy PGD from ``x`` at ``steps`` steps. Checks 6 and 8 fool 0 of the 107
examples PGD-20 leaves correct on mnist_cnn_at (0 of 107 after PGD-40 at the user audit's
settings, 0 of 27 at the quick suite's); PGD leaves none correct on the other three (at
eps 0.3; shapes_cnn also at the audit's 8/255), so they pass there with nothing to attack.
``mnist_cnn`` behind ``round`` or behind ``softmax(100 * logits)`` fails
``gradients_exist`` (0 and 2 of 128 examples with a gradient), keeps 96% accuracy unbounded
and reaches the target on under 1%. Behind ``round(4 x) / 4`` (the quick suite's settings,
the first 50 class-balanced test images, mnist_cnn as surrogate) Square fools 48, transfer
49 and random search 22 of the 49 that PGD leaves correct; behind ``softmax(100 * logits)``
(30 images) 3 (its loss is as flat as the gradient: Square only samples), 29 and 18 of 29;
behind a detach or a thermometer encoding (32 images) 31, 31 and 23 or 24 of 31. Cost on
mnist_cnn_at at the default settings, one thread, in CPU time: checks 6 and 8 add 26 s
(Square 19.8 s, random search 6.3 s) to the 16.7 s of checks 0 to 5; on the other shipped
models PGD leaves nothing for them to attack, and they cost nothing.
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
from attacks.square import square
from zoo.checks import check_generator
from zoo.guard import check_model, keeps_buffers, num_classes, warn_if_training
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
#: Square's query budget per example in ``black_box_not_stronger`` (module doc)
SQUARE_QUERIES = 300
#: random vertices of the ball tried per example in ``random_search_not_stronger``
RANDOM_VERTICES = 100
#: their sign tiles' sides, as fractions of the image's shorter side, taken in turn (0: one
#: pixel); at 28 px: 1, 2, 4, 7 and 14 px
TILE_FRACTIONS = (0.0, 1 / 16, 1 / 8, 1 / 4, 1 / 2)
#: the comparison checks pass while the weaker attack fools at most this many examples...
SLACK_EXAMPLES = 2
#: ... or this share of the examples white-box PGD leaves correct, whichever is more
SLACK_SHARE = 0.05


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
    surrogate: nn.Module | None = None,
) -> list[SanityCheck]:
    """Run the checks of the module doc on ``(x, y)``; Linf throughout. A model whose
    output has no autograd path to its input fails ``gradients_exist`` with the reason, and
    the checks that attack with gradients are reported as not run (failed), rather than
    raising; the black-box checks run on it all the same.

    ``surrogate``: a second model on the same inputs and classes; with one,
    ``transfer_not_stronger`` runs (PGD made on it, evaluated on ``model``); without one
    that check is left out of the list.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "carlini_checks")
    generator = check_generator(generator, x)
    if surrogate is not None:
        surrogate = check_model(surrogate, "surrogate")
        warn_if_training(surrogate, "carlini_checks (surrogate)")
    with warnings.catch_warnings():
        # warned once above by check_attack_inputs; the attacks would repeat it
        warnings.filterwarnings("ignore", message=".*training mode", category=RuntimeWarning)
        correct = predict(model, x, y) == y
        try:
            gradients = _gradients_exist(model, x, y)
        except NoGradientError as err:
            white = [SanityCheck("gradients_exist", False, str(err), 0.0)] + [
                SanityCheck(name, False, NOT_RUN, None) for name in ATTACK_CHECKS]
            # PGD could not run: it fools nothing, its robust accuracy is the clean one
            left = Survivors(correct, f"PGD-{steps} leaves correct", white_box_ran=False)
        else:
            # the checks draw from ``generator`` in this order: 1 and 3 share their PGD runs
            first, runs = _pgd_at_least_fgsm(model, x, y, eps, steps, correct, generator)
            curve = robust_accuracy(model, x, y, attack="pgd", eps=eps_grid, reuse=False,
                                    generator=generator, rel_alpha=2.5 / steps, steps=steps)
            assert curve.raw_accuracy is not None
            keys = sorted(runs)
            white = [
                gradients,
                first,
                _non_increasing("monotone_in_eps", "eps", eps_grid, curve.raw_accuracy,
                                len(x)),
                _non_increasing("more_steps_no_better", "steps", keys,
                                [float(runs[s].float().mean()) for s in keys], len(x)),
                _unbounded(model, x, y, steps, generator),
                _targeted_unbounded(model, x, y, steps, generator),
            ]
            left = Survivors(correct & runs[steps], f"PGD-{steps} leaves correct")
        black = [_black_box(model, x, y, eps, left, generator)]
        if surrogate is not None:
            black.append(_transfer(model, surrogate, x, y, eps, steps, left, generator))
        black.append(_random_search(model, x, y, eps, left, generator))
        return white + black


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
    correct: torch.Tensor, generator: torch.Generator | None,
) -> tuple[SanityCheck, dict[int, torch.Tensor]]:
    """Check 1 (per example), and which examples PGD at 1, 10 and ``steps`` steps leaves
    correct (check 3 and the black-box checks read them)."""
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


@dataclass(frozen=True)
class Survivors:
    """The clean-correct examples white-box PGD at ``eps`` leaves correct (bool ``(N,)``),
    and how to say so; the black-box checks attack only these."""

    mask: torch.Tensor
    how: str
    white_box_ran: bool = True


def slack(survivors: int) -> int:
    """How many of ``survivors`` examples a weaker attack may fool before a comparison check
    fails: ``SLACK_EXAMPLES``, or ``SLACK_SHARE`` of them, whichever is more (module doc)."""
    return max(SLACK_EXAMPLES, int(SLACK_SHARE * survivors))


def _not_stronger(name: str, attack: str, fooled: int, left: Survivors,
                  eps: float) -> SanityCheck:
    """A comparison check's verdict: ``attack`` fooled ``fooled`` of the examples white-box
    PGD left correct (``left``)."""
    m = int(left.mask.sum())
    tolerance = slack(m)
    passed = fooled <= tolerance
    detail = (f"{attack} fools {fooled} of {m} clean-correct examples that {left.how} at eps "
              f"{eps:g} (tolerance {tolerance}")
    if not left.white_box_ran:
        detail += ("; PGD could not run, the model has no input gradients: it counts as "
                   "fooling none, its accuracy as the clean one")
    detail += ")"
    if passed:
        detail += ": no sign that the white-box attack is the weaker one"
    elif left.white_box_ran:
        detail += (": gradients are masked (or the white-box attack is broken); the white-box "
                   "robust accuracy is not meaningful")
    else:
        detail += (": gradients are masked; the white-box robust accuracy is not meaningful "
                   "(the black-box attack's is an upper bound)")
    return SanityCheck(name, passed, detail, float(fooled))


def _black_box(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
               left: Survivors, generator: torch.Generator | None) -> SanityCheck:
    """Score-based Square (L∞, ``SQUARE_QUERIES`` queries, margin loss) on the examples PGD
    left correct."""
    todo = left.mask.nonzero().flatten()
    fooled = 0
    if todo.numel():
        x_adv = square(model, x[todo], y[todo], eps=eps, queries=SQUARE_QUERIES,
                       generator=generator)
        fooled = int((predict(model, x_adv, y[todo]) != y[todo]).sum())
    return _not_stronger("black_box_not_stronger", f"Square ({SQUARE_QUERIES:,} queries)",
                         fooled, left, eps)


def _transfer(model: nn.Module, surrogate: nn.Module, x: torch.Tensor, y: torch.Tensor,
              eps: float, steps: int, left: Survivors,
              generator: torch.Generator | None) -> SanityCheck:
    """PGD-``steps`` made on ``surrogate`` (the checks' step ``2.5 * eps / steps``), evaluated
    on ``model``, on the examples white-box PGD left correct."""
    todo = left.mask.nonzero().flatten()
    fooled = 0
    if todo.numel():
        try:
            x_adv = pgd(surrogate, x[todo], y[todo], eps=eps, alpha=2.5 * eps / steps,
                        steps=steps, generator=generator)
        except NoGradientError:
            return SanityCheck("transfer_not_stronger", False, "not run: the surrogate has no "
                               "input gradients to attack with; give a differentiable one",
                               None)
        fooled = int((predict(model, x_adv, y[todo]) != y[todo]).sum())
    return _not_stronger("transfer_not_stronger", f"PGD-{steps} made on the surrogate", fooled,
                         left, eps)


def _random_search(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
                   left: Survivors, generator: torch.Generator | None) -> SanityCheck:
    """Up to ``RANDOM_VERTICES`` random vertices of the ball per example PGD left correct:
    ``x + eps * signs`` clipped to the box, one random sign per channel and square tile,
    the tile's side cycling through ``TILE_FRACTIONS``; an example is fooled when one is."""
    todo = left.mask.nonzero().flatten()
    done = torch.zeros(todo.numel(), dtype=torch.bool, device=x.device)
    _, c, h, w = x.shape
    sides = [max(1, round(f * min(h, w))) for f in TILE_FRACTIONS]
    for i in range(RANDOM_VERTICES if eps > 0 else 0):
        rest = (~done).nonzero().flatten()
        if rest.numel() == 0:
            break
        xs, ys = x[todo[rest]], y[todo[rest]]
        s = sides[i % len(sides)]
        signs = torch.randint(0, 2, (rest.numel(), c, -(-h // s), -(-w // s)),
                              generator=generator, device=x.device)
        signs = signs.repeat_interleave(s, 2).repeat_interleave(s, 3)[:, :, :h, :w]
        vertex = (xs + eps * (2 * signs - 1).to(x.dtype)).clamp(0.0, 1.0)
        done[rest[predict(model, vertex, ys) != ys]] = True
    return _not_stronger("random_search_not_stronger",
                         f"random search ({RANDOM_VERTICES} vertices of the ball, sign tiles of "
                         f"{', '.join(map(str, sides))} px)", int(done.sum()), left, eps)
