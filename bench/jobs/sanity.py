"""Carlini et al.'s checks that an evaluation is not fooling itself (``attacks.carlini_checks``)."""

from __future__ import annotations

import attacks
from bench.context import RunContext
from bench.spec import REQUIRED, Job, JobOutput, KindSpec


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = ctx.model(p["model"], p.get("weights"))
    x, y = ctx.sample(p["dataset"], p["n"], p["seed"])
    checks = attacks.carlini_checks(
        model, x, y, eps=p["eps"], eps_grid=p["eps_grid"], steps=p["steps"],
        generator=ctx.generator(p["seed"]),
    )
    base = {"model_label": model.label, "method": "carlini_checks"}
    rows = []
    for check in checks:
        rows.append({**base, "metric": "passed", "value": float(check.passed),
                     "check": check.name, "detail": check.detail})
        if check.value is not None:
            rows.append({**base, "metric": "check_value", "value": float(check.value),
                         "check": check.name})
    return JobOutput(rows)


SPEC = KindSpec(
    name="sanity",
    run=run,
    params={
        "model": REQUIRED,
        "weights": None,
        "eps": REQUIRED,
        "eps_grid": REQUIRED,
        "steps": 40,
        "n": 256,
    },
    expand=("model",),
    grids=("eps_grid",),
    description="Carlini et al. 2019 sanity checks of the attack evaluation",
)
