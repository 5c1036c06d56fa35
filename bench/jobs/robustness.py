"""Robust accuracy vs eps for one model, attack and norm (``attacks.robust_accuracy``)."""

from __future__ import annotations

import numpy as np

import attacks
from bench.context import RunContext
from bench.jobs.attack_params import ATTACK_DEFAULTS, fit_to_attack
from bench.spec import REQUIRED, Job, JobOutput, KindSpec


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = ctx.model(p["model"], p.get("weights"))
    x, y = ctx.sample(p["dataset"], p["n"], p["seed"])
    hyper = {k: p[k] for k in ("steps", "restarts", "loss", "random_start") if k in p}
    result = attacks.robust_accuracy(
        model, x, y, attack=p["attack"], eps=p["eps"], norm=p["norm"],
        batch_size=p["batch_size"], reuse=p["reuse"], generator=ctx.generator(p["seed"]),
        alpha=p.get("alpha"), rel_alpha=p.get("rel_alpha"), **hyper,
    )
    base = {"model_label": model.label, "method": p["attack"],
            "weights_sha256": ctx.weights_sha256(model)}
    raw = result.raw_accuracy or (None,) * len(result.eps)  # None on the reuse fast path
    rows = []
    for eps, acc, raw_acc in zip(result.eps, result.accuracy, raw, strict=True):
        rows.append({**base, "metric": "robust_accuracy", "value": acc, "eps": eps})
        if raw_acc is not None:
            rows.append({**base, "metric": "raw_accuracy", "value": raw_acc, "eps": eps})
    rows.append({**base, "metric": "clean_accuracy", "value": result.clean_accuracy, "eps": 0.0})
    for metric in ("gradient_passes", "forward_passes", "seconds"):
        name = "attack_seconds" if metric == "seconds" else metric
        rows.append({**base, "metric": name, "value": getattr(result, metric), "eps": None})
    # per example, so the audit card can take the worst case over attacks on the same images
    per_example = {"eps": np.asarray(result.eps, dtype=np.float64),
                   "clean_correct": result.clean_correct.cpu().numpy(),
                   "fooled_at": result.fooled_at.cpu().numpy()}
    return JobOutput(rows, {"per_example": per_example})


SPEC = KindSpec(
    name="robustness",
    run=run,
    params={
        "model": REQUIRED,
        "weights": None,
        "attack": REQUIRED,
        "norm": "linf",
        "eps": REQUIRED,
        "batch_size": 256,
        "reuse": True,
        **ATTACK_DEFAULTS,
    },
    expand=("model", "attack", "norm"),
    grids=("eps",),
    finish=fit_to_attack,
    description="robust accuracy vs eps: model x attack x norm, eps grid in one job",
)
