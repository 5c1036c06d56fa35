"""Is the map any good? Faithfulness (deletion and insertion), the model-randomisation sanity
check, localisation and saliency segmentation against object masks (datasets that have
them), and fragility under a small label-preserving FGSM step; every method on one model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from attribution import get_method
from attribution.metrics import (
    deletion,
    fragility,
    insertion,
    localisation,
    model_randomisation,
    passes,
    segmentation_iou,
)
from bench.context import RunContext
from bench.jobs.method_params import (
    METHOD_DEFAULTS,
    as_input_shaped,
    method_kwargs,
    resolve_methods,
)
from bench.spec import REQUIRED, Job, JobOutput, KindSpec


def input_shaped_method(
    name: str, kwargs: dict[str, Any]
) -> Callable[[torch.nn.Module, torch.Tensor, Any], torch.Tensor]:
    """``fn(model, x, target)`` returning an input-shaped map (Grad-CAM upsampled), with a
    fresh copy of a random method's generator for every call, so each call sees the same noise
    and only the model or the input differs."""
    fn = get_method(name).fn
    generator = kwargs.get("generator")
    state = generator.get_state() if generator is not None else None

    def call(model: torch.nn.Module, x: torch.Tensor, target: Any) -> torch.Tensor:
        if state is not None:
            generator.set_state(state)
        return as_input_shaped(name, fn(model, x, target, **kwargs), tuple(x.shape[-2:]))

    return call


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = ctx.model(p["model"], p.get("weights"))
    x, y = ctx.sample(p["dataset"], p["n"], p["seed"])
    has_masks = p["dataset"] == "shapes"
    masks = ctx.sample_masks(p["dataset"], p["n"], p["seed"]) if has_masks else None
    rows: list[dict[str, Any]] = []
    curves: dict[str, np.ndarray] = {}
    for name in resolve_methods(p["methods"], model):
        call = input_shaped_method(name, method_kwargs(name, model, p, ctx))
        maps = call(model, x, y)
        base = {"model_label": model.label, "method": name}

        def add(metric: str, value: float, row: dict[str, Any] = base, **extra: Any) -> None:
            rows.append({**row, "metric": metric, "value": float(value), **extra})

        for curve in (deletion(model, x, y, maps, steps=p["curve_steps"], absolute=True),
                      insertion(model, x, y, maps, steps=p["curve_steps"], absolute=True)):
            add(f"{curve.kind}_auc", curve.auc.mean())
            curves[f"{curve.kind}_{name}"] = curve.curves.mean(dim=0).cpu().numpy()
            curves["fractions"] = curve.fractions.cpu().numpy()

        rand = model_randomisation(model, x, y, call, generator=ctx.generator(p["seed"]))
        for stage, layer in enumerate(rand.layers):
            for metric in ("spearman", "spearman_abs", "ssim"):
                add(f"randomisation_{metric}", getattr(rand, metric)[stage], stage=stage,
                    layer=layer)
        add("randomisation_passed", passes(rand, threshold=p["threshold"]))

        frag = fragility(model, x, y, call, eps=p["fragility_eps"])
        add("fragility_spearman", frag.mean_spearman)
        add("fragility_top_k_overlap", frag.mean_top_k_overlap)
        add("fragility_kept", int(frag.kept.sum()))

        if masks is not None:
            located = localisation(maps, masks, mode="absolute")
            add("mass_inside_mask", located.mean_mass_inside)
            add("pointing_game", located.pointing_accuracy)
            add("segmentation_iou", segmentation_iou(maps, masks).mean_iou)
    if masks is not None:
        share = masks.float().mean()  # what a uniform map scores: the baseline to beat
        rows.append({"model_label": model.label, "method": "uniform baseline",
                     "metric": "mass_inside_mask", "value": float(share)})
    return JobOutput(rows, {"curves": curves})


SPEC = KindSpec(
    name="quality",
    run=run,
    params={"model": REQUIRED, "weights": None, "n": 32, "curve_steps": 20,
            "threshold": 0.5, "fragility_eps": 4 / 255, **METHOD_DEFAULTS},
    expand=("model",),
    grids=("methods",),
    description="deletion/insertion, randomisation check, localisation, fragility of maps",
)
