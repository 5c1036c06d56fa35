"""The lecture's linear toy example (``attacks.linear_toy``): one row per number, each
coordinate's ``x``, ``w`` and ``x_adv`` under its index ``i``."""

from __future__ import annotations

import attacks
from bench.context import RunContext
from bench.spec import JobOutput
from zoo.params import NonNegative

METHOD = "linear_toy"
# per coordinate (rows with ``i``): the names ``attacks.ToyResult.rows`` gives them
X, W, X_ADV = "x", "w", "x_adv"
# the whole toy (rows without ``i``)
SCORE, SCORE_ADV, P, P_ADV = "score", "score_adv", "p", "p_adv"


def run(ctx: RunContext, *, eps: NonNegative = 0.5) -> JobOutput:
    """The toy moved by ``eps`` per coordinate; ``ctx`` is unused (no model, no data)."""
    result = attacks.linear_toy(eps=eps)
    rows = [
        {"method": METHOD, "metric": name, "value": value, "i": row["i"]}
        for row in result.rows()
        for name, value in row.items()
        if name != "i"
    ]
    rows += [
        {"method": METHOD, "metric": name, "value": getattr(result, name)}
        for name in (SCORE, SCORE_ADV, P, P_ADV)
    ]
    return JobOutput(rows)
