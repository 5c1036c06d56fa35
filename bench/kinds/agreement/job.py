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
from bench.kinds.attribution_calls import MethodPlan, call_kwargs, plan_methods
from bench.schema import Dataset, Model, Names
from bench.spec import JobOutput
from zoo.layers import token_side
from zoo.params import PositiveInt

# metrics, one row each per method
MAX_ABS_DIFF = "max_abs_diff"
RELATIVE_ERROR = "relative_error"  # the max abs difference over the largest |Captum value|
SPEARMAN = "spearman"
SECONDS_OURS = "seconds_ours"
SECONDS_CAPTUM = "seconds_captum"
#: a method Captum has no counterpart of: one row, its ``reason`` says so
NOT_COMPARED = "not_compared"
#: a method that does not apply to the model: ``LEFT_OUT`` (``attribution_calls``), one row,
#: its ``reason`` says why


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


def not_compared(name: str, plan: MethodPlan) -> str | None:
    """Why method ``name`` has no Captum reference on this model, or ``None``."""
    if not hasattr(reference, name):
        return "Captum has no counterpart of this method in attribution.reference"
    shape = plan.shapes.get(name)
    if shape is not None and token_side((1, *shape)) is not None:
        tokens = ", ".join(str(s) for s in shape)
        return (f"layer {plan.layers[name]} outputs transformer tokens (N, {tokens}), which "
                "ours reads on the patch grid; Captum takes a layer's output as "
                "(N, channels, ...) and defines no such map")
    return None


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
    plan = plan_methods(methods, net, settings)
    rows = plan.left_out_rows(net.label)
    for name in ctx.steps(plan.methods):
        base = {"model_label": net.label, "method": name, **plan.extra(name)}
        reason = not_compared(name, plan)
        if reason is not None:
            rows.append({**base, "metric": NOT_COMPARED, "value": 1.0, "reason": reason})
            continue
        ours, t_ours = _timed(lambda n=name: METHODS.get(n).fn(
            net, x, y, **call_kwargs(n, plan, settings, ctx, seed)), ctx)
        # same kwargs, rebuilt: SmoothGrad's reference reads the generator's starting state
        ref, t_ref = _timed(lambda n=name: getattr(reference, n)(
            net, x, y, **call_kwargs(n, plan, settings, ctx, seed)), ctx)
        diff = float((ours - ref).abs().max())
        scale = float(ref.abs().max())
        rows += [
            {**base, "metric": MAX_ABS_DIFF, "value": diff},
            {**base, "metric": RELATIVE_ERROR, "value": diff / scale if scale else diff},
            {**base, "metric": SPEARMAN, "value": rank_correlation(ours, ref)},
            {**base, "metric": SECONDS_OURS, "value": t_ours},
            {**base, "metric": SECONDS_CAPTUM, "value": t_ref},
        ]
    return JobOutput(rows)
