"""The high-dimension argument: ``attacks.dimension_sweep`` over a grid of dimensions, and
``attacks.linear_model_shift`` on a shipped linear model's weights."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

import attacks
from bench.context import RunContext
from bench.schema import Dataset, Model
from bench.spec import JobOutput
from zoo.params import Budgets, NonNegative, PositiveInt

SWEEP = "dimension_sweep"  # the ``method`` of the abstract model's rows
MODEL_SHIFT = "linear_model_shift"  # the ``method`` of the linear model's rows
# the sweep's metrics (per ``dim``), as ``attacks.dimension_sweep`` names them
PREDICTED_SHIFT, EXPECTED_SHIFT, MEASURED_SHIFT = (
    "predicted_shift", "expected_shift", "measured_shift")
# the linear model's metrics (per ``eps``), as ``attacks.linear_model_shift`` names them
PREDICTED_MARGIN_SHIFT, MEASURED_MARGIN_SHIFT, FLIP_RATE = (
    "predicted_margin_shift", "measured_margin_shift", "flip_rate")


def linear_layer(model: nn.Module) -> nn.Linear:
    """The one linear map of a linear classifier; refuses a model that is not linear."""
    layers = [m for m in model.modules() if len(list(m.parameters(recurse=False)))]
    if len(layers) != 1 or not isinstance(layers[0], nn.Linear):
        raise ValueError("the dimension job needs a linear model (one nn.Linear and nothing "
                         "else with parameters), such as mnist_logreg")
    return layers[0]


def run(
    ctx: RunContext,
    *,
    dims: Sequence[PositiveInt] = (10, 100, 1_000, 10_000, 100_000),
    eps: NonNegative = 0.01,
    model: Model = "mnist_logreg",
    weights: str | None = None,
    eps_grid: Budgets,
    dataset: Dataset,
    n: PositiveInt,
    seed: int,
) -> JobOutput:
    """``dims`` and ``eps``: the sweep's; ``eps_grid``: the linear model's budgets."""
    # dimension_sweep draws on the CPU: its numbers do not depend on the run's device
    sweep = attacks.dimension_sweep(dims, eps=eps, generator=torch.Generator().manual_seed(seed))
    rows = [
        # the sweep's model is the abstract one of the paper, not the job's MNIST model
        {"method": SWEEP, "model": None, "dataset": None, "metric": key, "value": value,
         "dim": int(row["dim"]), "eps": row["eps"]}
        for row in sweep
        for key, value in row.items()
        if key not in ("dim", "eps")
    ]
    net = ctx.model(model, weights)
    layer = linear_layer(net)
    x, y = ctx.sample(dataset, n, seed)
    shift = attacks.linear_model_shift(layer.weight, x, y, eps_grid=eps_grid, bias=layer.bias)
    # what the page says of the model and its images: its classes, the share of pixels at 0
    # (which clipping to [0, 1] keeps from moving down)
    shown = {"classes": int(layer.out_features), "zero_pixels": float((x == 0).float().mean())}
    rows += [
        {"method": MODEL_SHIFT, "model_label": net.label, "metric": key, "value": value,
         "eps": row["eps"], "dim": int(row["dim"]), **shown}
        for row in shift
        for key, value in row.items()
        if key not in ("eps", "dim")
    ]
    return JobOutput(rows)
