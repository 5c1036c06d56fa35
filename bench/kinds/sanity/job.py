"""Carlini et al.'s checks that an evaluation is not fooling itself (``attacks.carlini_checks``)."""

from __future__ import annotations

import attacks
from bench.context import RunContext
from bench.schema import Dataset, Model
from bench.spec import JobOutput
from zoo.params import Budgets, NonNegative, PositiveInt

METHOD = "carlini_checks"
PASSED = "passed"  # per check (row key ``check``): 1.0 passed, 0.0 failed; with its ``detail``
CHECK_VALUE = "check_value"  # per check that measures a number: that number


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt = 256,
    seed: int,
    eps: NonNegative,
    eps_grid: Budgets,
    steps: PositiveInt = 40,
    surrogate: Model | None = None,
) -> JobOutput:
    """Every check on ``n`` test images; ``eps``: the budget the checks attack at,
    ``eps_grid``: the budgets of the monotonicity check; ``surrogate``: a model on the same
    data whose PGD examples must not fool ``model`` more than its own do (the transfer check
    runs only with one)."""
    net = ctx.model(model, weights)
    x, y = ctx.sample(dataset, n, seed)
    other = ctx.model(surrogate) if surrogate is not None else None
    checks = attacks.carlini_checks(net, x, y, eps=eps, eps_grid=eps_grid, steps=steps,
                                    generator=ctx.generator(seed), surrogate=other)
    base = {"model_label": net.label, "method": METHOD}
    rows = []
    for check in checks:
        rows.append({**base, "metric": PASSED, "value": float(check.passed),
                     "check": check.name, "detail": check.detail})
        if check.value is not None:
            rows.append({**base, "metric": CHECK_VALUE, "value": float(check.value),
                         "check": check.name})
    return JobOutput(rows)
