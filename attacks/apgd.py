"""Auto-PGD (Croce and Hein 2020, "Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks", Algorithm 1).

PGD without a step size to tune: it starts with step ``2 * eps``, adds momentum, and halves
the step at fixed checkpoints whenever progress stalls, restarting from the best point found.
The DLR loss it pairs with is invariant to shifting and rescaling the logits, so it keeps a
usable gradient where cross-entropy saturates.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from attacks.common import (
    Norm,
    ascent_direction,
    ce_loss,
    check_attack_inputs,
    expected_logits,
    expected_value_and_grad,
    fooled,
    project,
)
from attacks.common import (
    random_start as sample_start,
)
from attacks.registry import register
from zoo.checks import check_generator
from zoo.guard import num_classes
from zoo.params import Fraction, Iterations, NonNegative, PositiveInt

MOMENTUM = 0.75  # the paper's alpha: weight of the new gradient step against the last move
_DLR_TINY = 1e-12


def checkpoints(steps: int) -> list[int]:
    """The iterations ``w_j = ceil(p_j * steps)`` at which the step size may be halved.

    ``p_0 = 0``, ``p_1 = 0.22``, ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``: long
    first phases, then checks every 6% of the budget. Rounding before ``ceil`` keeps
    ``0.22 * 100`` at 22 instead of 23.
    """
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({math.ceil(round(q * steps, 9)) for q in p})


def dlr_loss(
    logits: torch.Tensor, y: torch.Tensor, source: torch.Tensor | None = None
) -> torch.Tensor:
    """Difference of Logits Ratio, per example (shape ``(N,)``), to be maximised.

    Untargeted: ``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)``, positive iff misclassified.
    Targeted (``source`` given, ``y`` the targets):
    ``-(z_source - z_y) / (z_pi1 - (z_pi3 + z_pi4) / 2)``. ``z_pi`` are the sorted logits.
    """
    z = logits.sort(dim=1, descending=True).values
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    if source is None:
        z_other = logits.scatter(1, y[:, None], -torch.inf).amax(dim=1)
        return -(z_y - z_other) / (z[:, 0] - z[:, 2] + _DLR_TINY)
    z_source = logits.gather(1, source[:, None]).squeeze(1)
    return -(z_source - z_y) / (z[:, 0] - (z[:, 2] + z[:, 3]) / 2 + _DLR_TINY)


def _objective(
    logits: torch.Tensor, y: torch.Tensor, source: torch.Tensor | None, loss: str, targeted: bool
) -> torch.Tensor:
    if loss == "dlr":
        return dlr_loss(logits, y, source)
    ce = ce_loss(logits, y)
    return -ce if targeted else ce


def _value_and_grad(
    model: nn.Module, x_adv: torch.Tensor, y: torch.Tensor, source: torch.Tensor | None,
    loss: str, targeted: bool, check: bool = True, eot_samples: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Objective ``(N,)``, its input gradient, and the logits; sum-reduced so rows are own,
    each the mean over ``eot_samples`` passes (``attacks.common.expected_value_and_grad``).
    ``check``: test the labels against the logits (once per run; it syncs the device)."""
    return expected_value_and_grad(
        model, x_adv, y, lambda z: _objective(z, y, source, loss, targeted), check,
        eot_samples)


def _rows(t: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    return None if t is None else t[idx]


def _single_run(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, source: torch.Tensor | None,
    x0: torch.Tensor, *, eps: float, steps: int, norm: str, loss: str, rho: float,
    targeted: bool, early_stop: bool, eot_samples: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One run of Algorithm 1. Returns ``(x_out, found, f_max)``: per example the last
    adversarial iterate if any was found, else the highest-objective point ``x_max``."""
    n = x.shape[0]
    view = (n,) + (1,) * (x.dim() - 1)
    f_cur, grad, logits = _value_and_grad(model, x0, y, source, loss, targeted,
                                          eot_samples=eot_samples)
    x_cur, x_prev = x0.detach().clone(), x0.detach().clone()
    x_max, f_max, grad_max = x_cur.clone(), f_cur.clone(), grad.clone()
    found = fooled(logits, y, targeted)
    x_found = x_cur.clone()
    eta = torch.full(view, 2 * eps, dtype=x.dtype, device=x.device)
    increases = torch.zeros(n, dtype=torch.int64, device=x.device)
    reduced_last = torch.zeros(n, dtype=torch.bool, device=x.device)
    f_max_last = f_max.clone()
    active = torch.arange(n, device=x.device)
    if early_stop:
        active = active[~found]
    marks = checkpoints(steps)

    for k in range(steps):
        if active.numel() == 0:
            break
        a = active
        xa = x_cur[a]
        z = project(xa + eta[a] * ascent_direction(grad[a], norm), x[a], eps, norm)
        if k == 0:  # no previous move yet: the first step is plain projected gradient ascent
            x_new = z
        else:
            moved = xa + MOMENTUM * (z - xa) + (1 - MOMENTUM) * (xa - x_prev[a])
            x_new = project(moved, x[a], eps, norm)
        f_new, grad_new, logits = _value_and_grad(model, x_new, y[a], _rows(source, a), loss,
                                                  targeted, check=False,
                                                  eot_samples=eot_samples)
        increases[a] += (f_new > f_cur[a]).long()
        better = f_new > f_max[a]
        x_max[a[better]], f_max[a[better]], grad_max[a[better]] = (
            x_new[better], f_new[better], grad_new[better])
        hit = fooled(logits, y[a], targeted)
        x_found[a[hit]] = x_new[hit]
        found[a[hit]] = True
        x_prev[a], x_cur[a], grad[a], f_cur[a] = xa, x_new, grad_new, f_new

        w = k + 1  # x(w) was just computed
        if w in marks and w < steps:
            interval = w - marks[marks.index(w) - 1]
            # Condition 1: the objective rose in fewer than rho of the steps since the last
            # checkpoint. Condition 2: the step was not halved last time and f_max is stuck.
            stalled = (increases[a] < rho * interval) | (
                ~reduced_last[a] & (f_max[a] <= f_max_last[a]))
            r = a[stalled]
            eta[r] /= 2
            x_cur[r], grad[r], f_cur[r] = x_max[r], grad_max[r], f_max[r]
            reduced_last[a] = stalled
            f_max_last[a] = f_max[a]
            increases[a] = 0
        if early_stop:
            active = a[~hit]
    out = torch.where(found.view(view), x_found, x_max)
    return out, found, f_max


@register("apgd", paper="Croce and Hein 2020")
def apgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: NonNegative,
    steps: Iterations,
    norm: Norm = "linf",
    loss: Literal["ce", "dlr"] = "ce",
    restarts: PositiveInt = 1,
    rho: Fraction = 0.75,
    random_start: bool = True,
    targeted: bool = False,
    generator: torch.Generator | None = None,
    early_stop: bool = False,
    eot_samples: PositiveInt = 1,
) -> torch.Tensor:
    """APGD with ``restarts`` runs, ``steps`` iterations each, on the CE or DLR objective.

    Per example the result is an adversarial iterate when any step of any run found one
    (the last one found in that run), else the highest-objective point seen. Later restarts
    only attack the examples no run has fooled yet, as the authors' implementation does.

    - ``targeted``: ``y`` holds the target classes. Targeted DLR needs the class to move
      away from; it is the model's clean prediction on ``x`` (the true class wherever the
      model is right), which costs one extra forward pass.
    - ``early_stop``: an example that meets the goal keeps that iterate and stops costing
      forward/backward passes (robust-accuracy evaluation). It changes nothing else.
    - Each run costs ``steps + 1`` gradient evaluations (one at the start point), each of
      ``eot_samples`` forward/backward passes.
    - ``eot_samples``: Expectation over Transformation (Athalye et al. 2018) for randomised
      models: the objective, its gradient and the logits that decide success are means over
      that many passes (the clean prediction of targeted DLR too); 1 (default) is plain APGD.

    Differences from the reference code (fra31/auto-attack), where the paper is followed:
    checkpoints are ``ceil(p_j * steps)`` (the code rounds the interval lengths down, which
    differs for small ``steps``); condition 1 is the paper's strict ``<``; condition 2 is
    also tested at the first checkpoint; the random start is uniform in the ball
    (``attacks.common.random_start``) instead of on its boundary.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "apgd")
    generator = check_generator(generator, x)
    classes = num_classes(model)
    needed = 4 if targeted else 3
    if loss == "dlr" and classes is not None and classes < needed:
        raise ValueError(f"loss='dlr' needs at least {needed} classes, the model has {classes}")
    if eps == 0:
        return x.detach().clone()

    source = None
    if loss == "dlr" and targeted:
        source = expected_logits(model, x, y, eot_samples).argmax(dim=1)
    best = x.detach().clone()
    best_found = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    best_f = torch.full((x.shape[0],), -torch.inf, dtype=x.dtype, device=x.device)
    todo = torch.arange(x.shape[0], device=x.device)
    for _ in range(restarts):
        xs = x[todo]
        start = sample_start(xs, eps, norm, generator) if random_start else xs
        out, found, f_max = _single_run(
            model, xs, y[todo], _rows(source, todo), start, eps=eps, steps=steps, norm=norm,
            loss=loss, rho=rho, targeted=targeted, early_stop=early_stop,
            eot_samples=eot_samples,
        )
        # an adversarial point always wins; otherwise the run with the higher objective
        take = found | (f_max > best_f[todo])
        best[todo[take]] = out[take]
        best_f[todo[take]] = torch.where(found[take], torch.inf, f_max[take])
        best_found[todo[found]] = True
        todo = todo[~found]
        if todo.numel() == 0:
            break
    return best.detach()
