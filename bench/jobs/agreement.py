"""Agreement with Captum: every method and its Captum reference on the same inputs, compared
element-wise (max abs difference, relative error) and by rank (Spearman)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from scipy.stats import spearmanr

from attribution import get_method, reference
from bench.context import RunContext
from bench.jobs.method_params import METHOD_DEFAULTS, method_kwargs, resolve_methods
from bench.spec import REQUIRED, Job, JobOutput, KindSpec


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over images of the Spearman correlation of two maps' flattened values.

    A constant map has no ranking; a pair where both are constant and equal counts as 1.
    """
    values = []
    for u, v in zip(a.flatten(1).cpu().double(), b.flatten(1).cpu().double(), strict=True):
        if u.std() == 0 or v.std() == 0:
            values.append(1.0 if torch.equal(u, v) else 0.0)
        else:
            values.append(float(spearmanr(u.numpy(), v.numpy()).statistic))
    return sum(values) / len(values)


def _timed(fn: Callable[[], torch.Tensor], ctx: RunContext) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    out = fn()
    ctx.sync()
    return out, time.perf_counter() - start


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = ctx.model(p["model"], p.get("weights"))
    x, y = ctx.sample(p["dataset"], p["n"], p["seed"])
    rows = []
    for name in resolve_methods(p["methods"], model):
        ours, t_ours = _timed(
            lambda n=name: get_method(n).fn(model, x, y, **method_kwargs(n, model, p, ctx)), ctx)
        # same kwargs, rebuilt: SmoothGrad's reference reads the generator's starting state
        ref, t_ref = _timed(
            lambda n=name: getattr(reference, n)(model, x, y, **method_kwargs(n, model, p, ctx)),
            ctx)
        diff = float((ours - ref).abs().max())
        scale = float(ref.abs().max())
        base = {"model_label": model.label, "method": name}
        rows += [
            {**base, "metric": "max_abs_diff", "value": diff},
            {**base, "metric": "relative_error", "value": diff / scale if scale else diff},
            {**base, "metric": "spearman", "value": rank_correlation(ours, ref)},
            {**base, "metric": "seconds_ours", "value": t_ours},
            {**base, "metric": "seconds_captum", "value": t_ref},
        ]
    return JobOutput(rows)


SPEC = KindSpec(
    name="agreement",
    run=run,
    params={"model": REQUIRED, "weights": None, "n": 16,
            **METHOD_DEFAULTS},
    expand=("model",),
    grids=("methods",),
    description="each attribution method against Captum's implementation, element-wise",
)
