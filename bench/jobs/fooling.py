"""Fooling images: every source class pushed to every target class (``attacks.fooling_grid``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import attacks
from bench.context import RunContext
from bench.spec import REQUIRED, Job, JobOutput, KindSpec

AUTO_CLASSES = 10  # classes in the grid when a task names none


def finish(config: dict[str, Any]) -> dict[str, Any]:
    if ("alpha" in config) == ("rel_alpha" in config):
        raise ValueError("give exactly one of alpha or rel_alpha (alpha = rel_alpha * eps)")
    return config


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = ctx.model(p["model"], p.get("weights"))
    x, y = ctx.sample(p["dataset"], p["n"], p["seed"])
    alpha = p["alpha"] if "alpha" in p else p["rel_alpha"] * p["eps"]
    classes = p.get("classes")
    if classes is None:
        classes = recognised_classes(model, x, y)
    grid = attacks.fooling_grid(model, x, y, classes=classes, eps=p["eps"], alpha=alpha,
                        steps=p["steps"], norm=p["norm"])
    artifact = {
        "sources": grid.sources, "classes": grid.classes, "images": grid.images,
        "target_prob": grid.target_prob, "predicted": grid.predicted, "success": grid.success,
    }
    artifact = {k: _numpy(v) for k, v in artifact.items()}
    artifact["class_names"] = np.array(model.class_names, dtype=str)
    base = {"model_label": model.label, "method": "fooling_grid"}
    classes = artifact["classes"].tolist()
    rows = [{**base, "metric": "success_rate", "value": float(grid.success_rate())}]
    prob = artifact["target_prob"]
    rows += [
        {**base, "metric": "target_prob", "value": float(prob[i, j]), "source": int(s),
         "target": int(t)}
        for i, s in enumerate(classes)
        for j, t in enumerate(classes)
    ]
    return JobOutput(rows, {"fooling": artifact})


def recognised_classes(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[int]:
    """The first ``AUTO_CLASSES`` classes with a correctly classified image in the sample: a
    fooling grid needs one source image per class, and a 1000-class grid would not fit a page.
    """
    with torch.no_grad():
        right = y[model(x).argmax(dim=1) == y]
    classes = sorted(set(right.tolist()))[:AUTO_CLASSES]
    if not classes:
        raise ValueError("the model classifies no image of the sample correctly: no source "
                         "image to fool")
    return classes


def _numpy(value: object) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()  # type: ignore[union-attr]
    return np.asarray(value)


SPEC = KindSpec(
    name="fooling",
    run=run,
    params={
        "model": REQUIRED,
        "weights": None,
        "classes": None,
        "norm": "linf",
        "eps": REQUIRED,
        "alpha": None,
        "rel_alpha": None,
        "steps": REQUIRED,
        "n": 256,
    },
    expand=("model",),
    finish=finish,
    description="targeted fooling images, source class x target class",
)
