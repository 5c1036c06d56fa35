"""Agreement with Captum: every method and its Captum reference on the same inputs, compared
element-wise (max abs difference, relative error) and by rank (Spearman)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

import torch
from scipy.stats import spearmanr

from attribution import reference
from attribution.registry import METHODS
from bench.context import RunContext
from bench.kinds.attribution_calls import call_kwargs, resolve_methods
from bench.schema import Dataset, Model, Names
from bench.spec import JobOutput
from zoo.params import PositiveInt

# metrics, one row each per method
MAX_ABS_DIFF = "max_abs_diff"
RELATIVE_ERROR = "relative_error"  # the max abs difference over the largest |Captum value|
SPEARMAN = "spearman"
SECONDS_OURS = "seconds_ours"
SECONDS_CAPTUM = "seconds_captum"
#: a method Captum has no counterpart of: one row, its ``reason`` says so
NOT_COMPARED = "not_compared"


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


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt = 16,
    seed: int,
    methods: Annotated[list[str] | Literal["auto"], Names(METHODS)] = "auto",
    **settings: Any,
) -> JobOutput:
    """``settings``: the methods' own (occlusion's ``window``...), as the suite gave them."""
    net = ctx.model(model, weights)
    x, y = ctx.sample(dataset, n, seed)
    rows = []
    for name in resolve_methods(methods, net):
        if not hasattr(reference, name):
            rows.append({"model_label": net.label, "method": name, "metric": NOT_COMPARED,
                         "value": 1.0, "reason": "Captum has no counterpart of this method "
                                                 "in attribution.reference"})
            continue
        ours, t_ours = _timed(lambda n=name: METHODS.get(n).fn(
            net, x, y, **call_kwargs(n, net, settings, ctx, seed)), ctx)
        # same kwargs, rebuilt: SmoothGrad's reference reads the generator's starting state
        ref, t_ref = _timed(lambda n=name: getattr(reference, n)(
            net, x, y, **call_kwargs(n, net, settings, ctx, seed)), ctx)
        diff = float((ours - ref).abs().max())
        scale = float(ref.abs().max())
        base = {"model_label": net.label, "method": name}
        rows += [
            {**base, "metric": MAX_ABS_DIFF, "value": diff},
            {**base, "metric": RELATIVE_ERROR, "value": diff / scale if scale else diff},
            {**base, "metric": SPEARMAN, "value": rank_correlation(ours, ref)},
            {**base, "metric": SECONDS_OURS, "value": t_ours},
            {**base, "metric": SECONDS_CAPTUM, "value": t_ref},
        ]
    return JobOutput(rows)
