"""The high-dimension argument as a job: ``attacks.dimension_sweep`` over a grid of
dimensions, and ``attacks.linear_model_shift`` on a shipped linear model's weights.
"""

from __future__ import annotations

import torch
from torch import nn

import attacks
from bench.context import RunContext
from bench.spec import REQUIRED, Job, JobOutput, KindSpec


def linear_layer(model: nn.Module) -> nn.Linear:
    """The one linear map of a linear classifier; refuses a model that is not linear."""
    layers = [m for m in model.modules() if len(list(m.parameters(recurse=False)))]
    if len(layers) != 1 or not isinstance(layers[0], nn.Linear):
        raise ValueError("the dimension job needs a linear model (one nn.Linear and nothing "
                         "else with parameters), such as mnist_logreg")
    return layers[0]


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    # dimension_sweep draws on the CPU: its numbers do not depend on the run's device
    sweep = attacks.dimension_sweep(p["dims"], eps=p["eps"],
                            generator=torch.Generator().manual_seed(p["seed"]))
    rows = [
        # the sweep's model is the abstract one of the paper, not the job's MNIST model
        {"method": "dimension_sweep", "model": None, "dataset": None, "metric": key,
         "value": value, "dim": int(row["dim"]), "eps": row["eps"]}
        for row in sweep
        for key, value in row.items()
        if key not in ("dim", "eps")
    ]
    model = ctx.model(p["model"], p.get("weights"))
    layer = linear_layer(model)
    x, y = ctx.sample(p["dataset"], p["n"], p["seed"])
    shift = attacks.linear_model_shift(layer.weight, x, y, eps_grid=p["eps_grid"], bias=layer.bias)
    rows += [
        {"method": "linear_model_shift", "model_label": model.label, "metric": key,
         "value": value, "eps": row["eps"], "dim": int(row["dim"])}
        for row in shift
        for key, value in row.items()
        if key not in ("eps", "dim")
    ]
    return JobOutput(rows)


SPEC = KindSpec(
    name="dimension",
    run=run,
    params={
        "dims": [10, 100, 1_000, 10_000, 100_000],
        "eps": 0.01,
        "model": "mnist_logreg",
        "weights": None,
        "eps_grid": REQUIRED,
    },
    grids=("eps_grid",),
    description="score shift vs dimension (Goodfellow et al. 2015) and a linear MNIST model",
)
