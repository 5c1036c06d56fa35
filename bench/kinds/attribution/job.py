"""Attribution maps side by side: every chosen method on the same few test images that the
model gets right, one image of each class where it can."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import numpy as np
import torch

from attribution.registry import METHODS
from bench.context import RunContext
from bench.kinds.attribution_calls import as_input_shaped, call_kwargs, plan_methods
from bench.schema import Dataset, Model, Names
from bench.spec import JobOutput
from zoo.params import PositiveInt

CANDIDATES = 256  # test images searched for correctly classified ones of distinct classes

SECONDS_PER_IMAGE = "seconds_per_image"  # the one metric, per method run
# a method left out: attribution_calls.LEFT_OUT, with its reason
MAPS = "maps"  # the artifact: images, predictions, class names and ``map_<method>`` each


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt = 6,
    seed: int,
    methods: Annotated[list[str] | Literal["auto"], Names(METHODS)] = "auto",
    **settings: Any,
) -> JobOutput:
    """``settings``: the methods' own (occlusion's ``window``...), as the suite gave them."""
    net = ctx.model(model, weights)
    x, y = ctx.examples(net, dataset, n, seed, candidates=CANDIDATES)
    with torch.no_grad():
        confidence, pred = net(x).softmax(dim=1).max(dim=1)
    plan = plan_methods(methods, net, settings)
    artifact: dict[str, np.ndarray] = {
        "images": x.cpu().numpy(), "label": y.cpu().numpy(), "pred": pred.cpu().numpy(),
        "confidence": confidence.cpu().numpy(), "methods": np.array(plan.methods, dtype=str),
        "class_names": np.array(ctx.class_names(net), dtype=str),
    }
    rows = plan.left_out_rows(net.label)
    for name in ctx.steps(plan.methods):
        start = time.perf_counter()
        raw = METHODS.get(name).fn(net, x, y, **call_kwargs(name, plan, settings, ctx, seed))
        ctx.sync()
        seconds = time.perf_counter() - start
        artifact[f"map_{name}"] = as_input_shaped(name, raw, tuple(x.shape[-2:])).cpu().numpy()
        rows.append({"model_label": net.label, "method": name, "metric": SECONDS_PER_IMAGE,
                     "value": seconds / len(x), **plan.extra(name)})
    return JobOutput(rows, {MAPS: artifact})
