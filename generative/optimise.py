"""The one loop every generative method runs: optimise an image against an objective with the
model's parameters frozen, record the objective per step on the device (no host syncs inside
the loop), and keep pixels in ``[0, 1]``.

An objective maps ``(x, step)`` to named, already weighted scalar terms; their sum is
minimised. ``grad_transform`` rescales the gradient before the optimiser sees it (DeepDream's
normalised step) and ``project`` edits the image after each step (Yosinski et al.'s
regularisers); the clamp to ``[0, 1]`` always comes last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from zoo.errors import UserError
from zoo.gradients import INSTEAD_GENERATIVE, NoGradientError, not_differentiable
from zoo.gradients import input_gradient as gradient_of
from zoo.guard import frozen_parameters

Objective = Callable[[torch.Tensor, int], Mapping[str, torch.Tensor]]
GradTransform = Callable[[torch.Tensor], torch.Tensor]
Projection = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]

OPTIMIZERS = ("sgd", "adam", "lbfgs")


@dataclass(frozen=True)
class Trace:
    """What one optimisation produced: the image, the objective and its terms per step
    (``steps + 1`` values: the start, then after each step), and the number of
    forward+backward passes."""

    image: torch.Tensor
    losses: torch.Tensor
    terms: dict[str, torch.Tensor]
    evaluations: int


def optimise_image(
    model: nn.Module,
    objective: Objective,
    x0: torch.Tensor,
    *,
    steps: int,
    optimizer: str,
    lr: float,
    grad_transform: GradTransform | None = None,
    project: Projection | None = None,
) -> Trace:
    """Minimise ``sum(objective(x, step).values())`` over the pixels of ``x`` from ``x0``.

    ``model``'s parameters are frozen for the run and restored in ``finally``, so neither
    their ``requires_grad`` nor their ``.grad`` changes; gradients come from
    ``torch.autograd.grad`` with respect to the image only. L-BFGS runs one iteration per step
    (with a strong-Wolfe line search, so several evaluations), keeping its curvature history
    across steps.

    Shape:
        - x0: ``(N, C, H, W)`` in ``[0, 1]``; returns a ``Trace`` with an image like ``x0``.
    """
    x = x0.detach().clone().requires_grad_(True)
    opt = _make_optimizer(optimizer, x, lr)
    records: list[Mapping[str, torch.Tensor]] = []
    evaluations = 0

    def closure(step: int) -> torch.Tensor:
        nonlocal evaluations
        terms = objective(x, step)
        # every term is a function of x; one without a graph reads a model that x cannot
        # reach (regularisers alone would still give a gradient, and the run would quietly
        # optimise only them)
        constant = [k for k, v in terms.items() if not v.requires_grad]
        if constant:
            which = ("its " + ", ".join(map(repr, constant))
                     + (" terms have" if len(constant) > 1 else " term has"))
            raise NoGradientError(f"{not_differentiable(INSTEAD_GENERATIVE)} ({which} no "
                                  "gradient)")
        loss = torch.stack(list(terms.values())).sum()
        grad = gradient_of(loss, x, instead=INSTEAD_GENERATIVE)
        x.grad = grad if grad_transform is None else grad_transform(grad)
        evaluations += 1
        if len(records) == step:  # L-BFGS calls back several times; keep the step's first
            records.append({k: v.detach() for k, v in terms.items()})
        return loss.detach()

    with frozen_parameters(model), torch.enable_grad():
        for step in range(steps):
            opt.step(lambda step=step: closure(step))
            with torch.no_grad():
                grad = x.grad if x.grad is not None else torch.zeros_like(x)
                edited = project(x.detach(), grad, step) if project is not None else x
                x.copy_(edited.clamp(0.0, 1.0))
        with torch.no_grad():
            records.append({k: v.detach() for k, v in objective(x, steps).items()})
    x.grad = None
    return Trace(x.detach(), *_stack(records), evaluations)


def _make_optimizer(name: str, x: torch.Tensor, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD([x], lr=lr)
    if name == "adam":
        return torch.optim.Adam([x], lr=lr)
    if name == "lbfgs":
        # max_eval must be given: its default (max_iter * 5 // 4 = 1) leaves the line search
        # no evaluation to backtrack with, so a rejected first trial returns t = 0 and every
        # later step repeats it (the run stalls)
        return torch.optim.LBFGS([x], lr=lr, max_iter=1, max_eval=25, history_size=20,
                                 line_search_fn="strong_wolfe")
    raise UserError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")


def _stack(
    records: list[Mapping[str, torch.Tensor]],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-step term dicts -> (total per step, each term per step), float64 on the CPU, with
    one device-to-host copy for the whole run."""
    names = list(records[0])
    table = torch.stack([torch.stack([r[k].reshape(()) for k in names]) for r in records])
    table = table.to("cpu", torch.float64)  # (steps + 1, terms)
    return table.sum(dim=1), {k: table[:, i] for i, k in enumerate(names)}
