"""Fooling images: every source class pushed to every target class (``attacks.fooling_grid``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

import attacks
import zoo
from attacks.common import Norm
from bench.context import RunContext
from bench.kinds.checks import check_classes
from bench.schema import Dataset, Model
from bench.spec import JobOutput
from zoo.params import NonNegative, PositiveInt, resolve

METHOD = "fooling_grid"
SUCCESS_RATE = "success_rate"  # share of the off-diagonal cells that reach their target
TARGET_PROB = "target_prob"  # per (source, target) cell: the model's probability of target
FOOLING = "fooling"  # the artifact: the grid's images, probabilities, successes, class names
AUTO_CLASSES = 10  # classes in the grid when a task names none


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt = 256,
    seed: int,
    norm: Norm = "linf",
    eps: NonNegative,
    **settings: Any,
) -> JobOutput:
    """``settings``: the rest of ``attacks.fooling_grid``'s (its step and steps; ``classes``,
    by default the first ``AUTO_CLASSES`` classes with a correctly classified image in the
    sample), as the suite gave them."""
    net = ctx.model(model, weights)
    x, y = ctx.sample(dataset, n, seed)
    kwargs = resolve(attacks.fooling_grid.params, settings, {"eps": eps})
    if kwargs.get("classes") is None:
        kwargs["classes"] = recognised_classes(net, x, y)
        if not kwargs["classes"]:
            return _no_grid(ctx, net, x)
    grid = attacks.fooling_grid(net, x, y, eps=eps, norm=norm, **kwargs)
    artifact = {
        "sources": grid.sources, "classes": grid.classes, "images": grid.images,
        "target_prob": grid.target_prob, "predicted": grid.predicted, "success": grid.success,
    }
    artifact = {k: _numpy(v) for k, v in artifact.items()}
    artifact["class_names"] = np.array(ctx.class_names(net), dtype=str)
    base = {"model_label": net.label, "method": METHOD}
    shown = artifact["classes"].tolist()
    prob = artifact["target_prob"]
    rows = [{**base, "metric": SUCCESS_RATE, "value": float(grid.success_rate())}]
    rows += [
        {**base, "metric": TARGET_PROB, "value": float(prob[i, j]), "source": int(s),
         "target": int(t)}
        for i, s in enumerate(shown)
        for j, t in enumerate(shown)
    ]
    return JobOutput(rows, {FOOLING: artifact})


def check(params: Mapping[str, Any], model: zoo.Classifier, ctx: RunContext) -> None:
    """``Kind.check``: the ``classes`` a task names are the model's."""
    if params.get("classes") is not None:
        check_classes(model, "classes", params["classes"])


def recognised_classes(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[int]:
    """The first ``AUTO_CLASSES`` classes with a correctly classified image in the sample: a
    fooling grid needs one source image per class, and a 1000-class grid would not fit a page.
    ``[]`` when the model gets no image of the sample right.
    """
    with torch.no_grad():
        right = y[model(x).argmax(dim=1) == y]
    return sorted(set(right.tolist()))[:AUTO_CLASSES]


def _no_grid(ctx: RunContext, net: torch.nn.Module, x: torch.Tensor) -> JobOutput:
    """A model that classifies no image of the sample correctly has no source image to fool:
    an empty grid (the section says so, with ``sampled``, the sample's size), no attack run."""
    k = (0, 0)
    artifact = {
        "sources": np.zeros((0, *x.shape[1:]), dtype=np.float32),
        "classes": np.zeros(0, dtype=np.int64),
        "images": np.zeros((*k, *x.shape[1:]), dtype=np.float32),
        "target_prob": np.zeros(k, dtype=np.float32), "predicted": np.zeros(k, dtype=np.int64),
        "success": np.zeros(k, dtype=bool), "sampled": np.array([len(x)]),
        "class_names": np.array(ctx.class_names(net), dtype=str),
    }
    rows = [{"model_label": net.label, "method": METHOD, "metric": SUCCESS_RATE,
             "value": float("nan")}]
    return JobOutput(rows, {FOOLING: artifact})


def _numpy(value: object) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()  # type: ignore[union-attr]
    return np.asarray(value)
