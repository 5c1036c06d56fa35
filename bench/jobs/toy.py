"""The lecture's linear toy example (``attacks.linear_toy``) as a job: one row per number."""

from __future__ import annotations

import attacks
from bench.context import RunContext
from bench.spec import Job, JobOutput, KindSpec


def run(job: Job, ctx: RunContext) -> JobOutput:
    result = attacks.linear_toy(eps=job.params["eps"])
    rows = [
        {"method": "linear_toy", "metric": name, "value": value, "i": row["i"]}
        for row in result.rows()
        for name, value in row.items()
        if name != "i"
    ]
    rows += [
        {"method": "linear_toy", "metric": name, "value": getattr(result, name)}
        for name in ("score", "score_adv", "p", "p_adv")
    ]
    return JobOutput(rows)


SPEC = KindSpec(
    name="toy",
    run=run,
    params={"eps": 0.5},
    uses_data=False,
    description="the linear toy example of CS231n lecture 9",
)
