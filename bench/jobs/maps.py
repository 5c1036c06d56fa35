"""Attribution maps side by side: every chosen method on the same few test images."""

from __future__ import annotations

import time

import numpy as np
import torch

from attribution import get_method
from bench.context import RunContext
from bench.jobs.examples import pick_examples
from bench.jobs.method_params import (
    METHOD_DEFAULTS,
    as_input_shaped,
    method_kwargs,
    resolve_methods,
)
from bench.spec import REQUIRED, Job, JobOutput, KindSpec

CANDIDATES = 256


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = ctx.model(p["model"], p.get("weights"))
    pool_x, pool_y = ctx.sample(p["dataset"], max(CANDIDATES, p["n"]), p["seed"])
    x, y = pick_examples(model, pool_x, pool_y, p["n"])
    with torch.no_grad():
        prob = model(x).softmax(dim=1)
    methods = resolve_methods(p["methods"], model)
    confidence, pred = prob.max(dim=1)
    artifact: dict[str, np.ndarray] = {
        "images": x.cpu().numpy(), "label": y.cpu().numpy(), "pred": pred.cpu().numpy(),
        "confidence": confidence.cpu().numpy(), "methods": np.array(methods, dtype=str),
        "class_names": np.array(model.class_names, dtype=str),
    }
    rows = []
    for name in methods:
        start = time.perf_counter()
        raw = get_method(name).fn(model, x, y, **method_kwargs(name, model, p, ctx))
        ctx.sync()
        seconds = time.perf_counter() - start
        artifact[f"map_{name}"] = as_input_shaped(name, raw, tuple(x.shape[-2:])).cpu().numpy()
        rows.append({"model_label": model.label, "method": name, "metric": "seconds_per_image",
                     "value": seconds / len(x)})
    return JobOutput(rows, {"maps": artifact})


SPEC = KindSpec(
    name="attribution",
    run=run,
    params={"model": REQUIRED, "weights": None, "n": 6,
            **METHOD_DEFAULTS},
    expand=("model",),
    grids=("methods",),
    description="attribution maps of every chosen method on the same test images",
)
