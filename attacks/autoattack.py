"""AutoAttack's standard evaluation (Croce and Hein 2020, "Reliable evaluation of adversarial
robustness with an ensemble of diverse parameter-free attacks", section 4).

Four parameter-free attacks run in turn, each only on the examples every earlier one left
standing; an example the model gets wrong on the clean input is never attacked. An example
is robust iff it is classified correctly and no stage fooled it.

- ``apgd-ce``: APGD on cross-entropy (``attacks.apgd``), 100 steps, 1 run;
- ``apgd-t``: APGD on the targeted DLR loss, 100 steps, 1 run per target, the 9 most likely
  other classes of the clean input (``min(9, classes - 1)``) as targets in turn, from the
  most likely down; each target only attacks the examples the previous ones did not fool;
- ``fab-t``: targeted FAB (``attacks.fab``), 100 steps, 1 run, the same targets in turn;
- ``square``: the Square Attack (``attacks.square``), 5,000 queries, 1 run, ``p_init`` 0.8.

These are the ``version="standard"`` settings of the authors' code (fra31/auto-attack,
``AutoAttack.set_version``) for L∞ and L2. ``version="quick"`` is ours, not the paper's:
``apgd-ce`` (100 steps) and ``apgd-t`` with the 3 most likely other classes (100 steps each),
then ``square`` with 1,000 queries; no FAB. After APGD-CE it costs about a sixth of the
standard version's gradient evaluations and forward passes (measured below). Its work is a
subset of the standard version's (the same first stage, the first 3 of the 9 targets, a
fifth of the queries), so it is weaker or equal up to the random draws, and a weaker
evaluation may report robustness that is not there: use it to iterate, and the standard
version for the numbers one reports.

``steps`` and ``queries`` replace a version's budgets (APGD's and FAB's iterations,
Square's queries) with the same stages: cheaper runs, and comparisons with another library's
ensemble at equal budgets (``tests/attacks/test_autoattack.py``: 20 steps and 500 queries on
the 200 digits below left 165 robust with ours and with torchattacks' four attacks).

A stage that cannot run on the model says why in ``Stage.skipped`` (and the registered
attack warns): targeted DLR needs a fourth-largest logit, so ``apgd-t`` needs at least 4
classes; ``fab-t`` needs a second class.

Measured on the shipped ``mnist_cnn_at``, the first 200 class-balanced mnist5k test digits
(``tests/attacks/conftest.py``), L∞ eps 0.3, ``generator`` seeded 0, one CPU thread, on a
shared machine (CPU seconds, not wall); robust accuracy after each stage and its cost in
image evaluations (gradient / forward-only):

    clean                 0.995
    apgd-ce               0.820     16,981 gradient               17 s
    apgd-t (9 targets)    0.810    147,430 gradient,   2,920 fwd  ~140 s
    fab-t                 0.810    147,600 gradient, 150,552 fwd   184 s  (*)
    square (5,000)        0.810          0 gradient, 810,162 fwd  ~370 s
    quick: apgd-ce 0.820 (17 s), apgd-t with 3 targets 0.810 (49,258 gradient, 46 s),
    square with 1,000 queries 0.810 (162,162 fwd, 73 s): 137 s in all.
    torchattacks.AutoAttack (version "standard", seed 0, all four stages): 0.815, 383 s.

The ``~`` figures are the quick run's CPU seconds per evaluation times the standard stage's
evaluations (the run without FAB-T took 24 minutes of wall time, 8 of CPU, on the shared
machine). (*) FAB-T was measured on APGD-CE's 164 survivors, a superset of the 162 it gets
after APGD-T; it fooled none of them (its single run starts at ``x``: no random draw), so the
standard version leaves 162 digits robust, torchattacks' 163, in about 710 CPU seconds
against its 383. The quick version finds the same 162 in 137 s, a fifth of the cost: APGD-CE
does nearly all the work here, the later stages fool 2 digits of 164, and Square's 5,000
queries none.

Differences from the authors' code: every stage attacks the model's argmax (the code's
APGD-T also keeps a point that lands in a third class; ``attacks.apgd`` returns per example
a point that reached the target, else its best objective, so such a point counts here only
if it is the one returned); the attacks' own differences are in their modules. The result
for an example no stage fooled is, of the points the stages returned for it, the one
nearest the decision boundary (the largest ``attacks.common.margin_loss``): its worst case.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import nn

from attacks.apgd import apgd
from attacks.common import (
    BATCH,
    Norm,
    check_attack_inputs,
    logits_of,
    margin_loss,
    project,
)
from attacks.fab import fab
from attacks.registry import register
from attacks.robust_accuracy import Counting
from attacks.square import square
from zoo.checks import check_generator
from zoo.guard import keeps_buffers
from zoo.params import Iterations, NonNegative, checked

Version = Literal["standard", "quick"]


@dataclass(frozen=True)
class StageConfig:
    """One stage of a version: its attack, its iterations (Square: queries per example) and,
    for a targeted stage, how many target classes at most."""

    name: Literal["apgd-ce", "apgd-t", "fab-t", "square"]
    steps: int
    targets: int = 0


VERSIONS: dict[str, tuple[StageConfig, ...]] = {
    "standard": (StageConfig("apgd-ce", 100), StageConfig("apgd-t", 100, 9),
                 StageConfig("fab-t", 100, 9), StageConfig("square", 5000)),
    "quick": (StageConfig("apgd-ce", 100), StageConfig("apgd-t", 100, 3),
              StageConfig("square", 1000)),
}
TARGETED_DLR_CLASSES = 4  # z_pi4, the fourth-largest logit, is in its denominator


@dataclass(frozen=True)
class Stage:
    """What one stage did.

    - ``attacked``: examples it started on (the survivors of the earlier stages);
    - ``fooled``: of those, how many it fooled; ``robust_after``: examples still robust
      after it (of all ``N``);
    - ``gradient_passes`` / ``forward_passes``: image-gradient and forward-only image
      evaluations, per image (a pass over a batch of 32 counts 32), its checks included;
    - ``skipped``: why it cannot run on this model or budget (``None`` when it can; it may
      still have had nothing left to attack).
    """

    name: str
    attacked: int
    fooled: int
    robust_after: int
    gradient_passes: int
    forward_passes: int
    seconds: float
    skipped: str | None = None


@dataclass(frozen=True)
class StandardEvaluation:
    """The outcome of ``standard_evaluation``, per example and per stage.

    - ``clean_correct``, ``robust``: bool ``(N,)``;
    - ``fooled_by``: per example the name of the stage that fooled it, ``None`` when none
      did (robust, or wrong on the clean input: never attacked);
    - ``x_adv``: ``(N, C, H, W)``, per example the point that fooled it, else the
      point nearest the boundary any stage returned (``x`` itself for an example never attacked);
    - ``stages``: one ``Stage`` per stage of the version, in order;
    - ``clean_passes``: forward passes of the clean predictions; ``seconds``: the whole call.
    """

    version: str
    steps: int | None  # the budgets that replaced the version's, if any
    queries: int | None
    eps: float
    norm: str
    clean_correct: torch.Tensor
    robust: torch.Tensor
    fooled_by: tuple[str | None, ...]
    x_adv: torch.Tensor
    stages: tuple[Stage, ...]
    clean_passes: int
    seconds: float

    @property
    def clean_accuracy(self) -> float:
        return float(self.clean_correct.float().mean())

    @property
    def robust_accuracy(self) -> float:
        return float(self.robust.float().mean())

    @property
    def gradient_passes(self) -> int:
        return sum(s.gradient_passes for s in self.stages)

    @property
    def forward_passes(self) -> int:
        return self.clean_passes + sum(s.forward_passes for s in self.stages)


@keeps_buffers
@checked
def standard_evaluation(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: NonNegative,
    norm: Norm = "linf",
    version: Version = "standard",
    steps: Iterations | None = None,
    queries: Iterations | None = None,
    generator: torch.Generator | None = None,
) -> StandardEvaluation:
    """AutoAttack's standard evaluation of ``model`` on ``(x, y)`` at budget ``eps``
    (module doc: the stages of each ``version``). ``generator`` drives every stage's random
    draws, in turn. ``steps`` (APGD's and FAB's iterations per run) and ``queries``
    (Square's) replace the version's budgets where given: a cheaper run with the same
    stages, e.g. to compare with another library at equal budgets.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "standard_evaluation")
    generator = check_generator(generator, x)
    return _evaluate(model, x, y, eps, norm, version, steps, queries, generator)


@register("autoattack", paper="Croce and Hein 2020", access="ensemble")
def autoattack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: NonNegative,
    norm: Norm = "linf",
    version: Version = "standard",
    steps: Iterations | None = None,
    queries: Iterations | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """AutoAttack's standard evaluation as an attack: per example the point that fooled the
    model, else its worst case found (``StandardEvaluation.x_adv``). Its budgets are the
    ``version``'s unless ``steps`` / ``queries`` replace them; a stage the model does not
    allow is skipped with a warning saying why.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "autoattack")
    generator = check_generator(generator, x)
    if eps == 0:
        return x.detach().clone()
    result = _evaluate(model, x, y, eps, norm, version, steps, queries, generator)
    for stage in result.stages:
        if stage.skipped is not None:
            warnings.warn(f"autoattack: stage {stage.name} skipped: {stage.skipped}",
                          RuntimeWarning, stacklevel=2)
    return result.x_adv


def _logits(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Logits without gradients, ``BATCH`` images a pass; the first batch checks them."""
    with torch.no_grad():
        return torch.cat([logits_of(model, x[i : i + BATCH], y[i : i + BATCH], check=i == 0)
                          for i in range(0, x.shape[0], BATCH)])


def _skipped(stage: StageConfig, classes: int, eps: float) -> str | None:
    if eps == 0:
        return "eps is 0: the ball holds x alone"
    if stage.name == "apgd-t" and classes < TARGETED_DLR_CLASSES:
        return (f"targeted DLR needs at least {TARGETED_DLR_CLASSES} classes (its denominator "
                f"uses the fourth-largest logit); the model has {classes}")
    if stage.targets and classes < 2:
        return "a targeted attack needs a class other than the label; the model has 1"
    return None


#: one run of a stage: (model, images, labels or targets) -> points
Run = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _runs(stage: StageConfig, eps: float, norm: str, generator: torch.Generator | None
          ) -> Run:
    if stage.name == "apgd-ce":
        return lambda m, xs, ys: apgd(m, xs, ys, eps=eps, steps=stage.steps, norm=norm,
                                      loss="ce", generator=generator, early_stop=True)
    if stage.name == "apgd-t":
        return lambda m, xs, ts: apgd(m, xs, ts, eps=eps, steps=stage.steps, norm=norm,
                                      loss="dlr", targeted=True, generator=generator,
                                      early_stop=True)
    if stage.name == "fab-t":
        return lambda m, xs, ts: fab(m, xs, ts, eps=eps, steps=stage.steps, norm=norm,
                                     targeted=True, generator=generator)
    return lambda m, xs, ys: square(m, xs, ys, eps=eps, norm=norm, queries=stage.steps,
                                    generator=generator)


def plan(version: str, steps: int | None = None, queries: int | None = None
         ) -> tuple[StageConfig, ...]:
    """The stages of ``version``, with ``steps`` (APGD, FAB) and ``queries`` (Square) in
    place of its budgets where given."""
    return tuple(
        replace(c, steps=(queries if c.name == "square" else steps) or c.steps)
        for c in VERSIONS[version])


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str,
              version: str, steps: int | None, queries: int | None,
              generator: torch.Generator | None) -> StandardEvaluation:
    """The evaluation on checked inputs (the model has warned if it is training)."""
    started = time.perf_counter()
    counted = Counting(model)
    x = x.detach()
    n = x.shape[0]
    with warnings.catch_warnings():
        # warned once by the caller; every attack would repeat it
        warnings.filterwarnings("ignore", message=".*training mode", category=RuntimeWarning)
        clean_logits = _logits(counted, x, y)
        classes = clean_logits.shape[1]
        clean_correct = clean_logits.argmax(dim=1) == y
        clean_passes = counted.forward_passes
        # the other classes, most likely first: the targets of the targeted stages
        others = clean_logits.scatter(1, y[:, None], -torch.inf).argsort(dim=1, descending=True)
        alive = clean_correct.clone()
        best, best_margin = x.clone(), margin_loss(clean_logits, y)
        fooled_by = torch.full((n,), -1, dtype=torch.int64, device=x.device)
        stages = []
        stages_plan = plan(version, steps, queries)
        for k, config in enumerate(stages_plan):
            t0 = time.perf_counter()
            grads0, forwards0 = counted.gradient_passes, counted.forward_passes
            attacked = int(alive.sum())
            skipped = _skipped(config, classes, eps)
            if skipped is None and attacked:
                run = _runs(config, eps, norm, generator)
                labels = ([y] if not config.targets else
                          [others[:, j] for j in range(min(config.targets, classes - 1))])
                for target in labels:
                    idx = torch.nonzero(alive).flatten()
                    if idx.numel() == 0:
                        break
                    xs = x[idx]
                    # a point outside the ball or the box would not count: projecting a
                    # valid point changes nothing
                    out = project(run(counted, xs, target[idx]), xs, eps, norm)
                    logits = _logits(counted, out, y[idx])
                    margin, hit = margin_loss(logits, y[idx]), logits.argmax(dim=1) != y[idx]
                    take = hit | (margin > best_margin[idx])
                    best[idx[take]], best_margin[idx[take]] = out[take], margin[take]
                    alive[idx[hit]] = False
                    fooled_by[idx[hit]] = k
            if x.is_cuda:
                torch.cuda.synchronize(x.device)
            stages.append(Stage(
                name=config.name, attacked=attacked, fooled=int((fooled_by == k).sum()),
                robust_after=int(alive.sum()),
                gradient_passes=counted.gradient_passes - grads0,
                forward_passes=counted.forward_passes - forwards0,
                seconds=time.perf_counter() - t0, skipped=skipped,
            ))
    names = [c.name for c in stages_plan]
    return StandardEvaluation(
        version=version, steps=steps, queries=queries, eps=float(eps), norm=norm,
        clean_correct=clean_correct.cpu(),
        robust=alive.cpu(), fooled_by=tuple(names[i] if i >= 0 else None
                                            for i in fooled_by.tolist()),
        x_adv=best.detach(), stages=tuple(stages), clean_passes=clean_passes,
        seconds=time.perf_counter() - started,
    )
