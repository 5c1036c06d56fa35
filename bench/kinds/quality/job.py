"""Is the map any good? Faithfulness (deletion and insertion), the model-randomisation sanity
check, localisation and saliency segmentation against object masks (datasets that have
them), and fragility under a small label-preserving FGSM step; every method on one model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import torch

from attribution.metrics import (
    deletion,
    fragility,
    insertion,
    localisation,
    model_randomisation,
    passes,
    segmentation_iou,
)
from attribution.registry import METHODS
from bench.context import RunContext
from bench.kinds.attribution_calls import as_input_shaped, call_kwargs, plan_methods
from bench.schema import Dataset, Model, Names
from bench.spec import JobOutput
from zoo.params import NonNegative, PositiveInt

# metrics, one row per method (the randomisation similarities: one per stage, its ``layer``
# the block re-initialised at that stage)
DELETION_AUC = "deletion_auc"
INSERTION_AUC = "insertion_auc"
RANDOMISATION_SPEARMAN = "randomisation_spearman"
RANDOMISATION_SPEARMAN_ABS = "randomisation_spearman_abs"
RANDOMISATION_SSIM = "randomisation_ssim"
RANDOMISATION_PASSED = "randomisation_passed"  # 1.0 or 0.0
FRAGILITY_SPEARMAN = "fragility_spearman"
FRAGILITY_TOP_K_OVERLAP = "fragility_top_k_overlap"
FRAGILITY_KEPT = "fragility_kept"  # examples whose label the FGSM step kept
MASS_INSIDE_MASK = "mass_inside_mask"  # this and the next two: datasets with masks only
POINTING_GAME = "pointing_game"
SEGMENTATION_IOU = "segmentation_iou"

UNIFORM_BASELINE = "uniform baseline"  # the method of the row a uniform map scores
# a method left out: attribution_calls.LEFT_OUT, with its reason
CURVES = "curves"  # the artifact: ``fractions``, ``deletion_<method>``, ``insertion_<method>``

AUC = {"deletion": DELETION_AUC, "insertion": INSERTION_AUC}  # by ``curve.kind``
#: per-stage metric -> the attribute of ``model_randomisation``'s result it reads
RANDOMISATION = {RANDOMISATION_SPEARMAN: "spearman", RANDOMISATION_SPEARMAN_ABS: "spearman_abs",
                 RANDOMISATION_SSIM: "ssim"}
MASKED = ("shapes",)  # the datasets whose images come with object masks

MapFn = Callable[[torch.nn.Module, torch.Tensor, Any], torch.Tensor]


@dataclass
class Scores:
    """What one job collects: its rows and the mean deletion and insertion curves."""

    label: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    #: method -> what each of its rows carries (Grad-CAM's: the layer it read)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, method: str, metric: str, value: float, **extra: Any) -> None:
        self.rows.append({"model_label": self.label, "method": method, "metric": metric,
                          "value": float(value), **self.tags.get(method, {}), **extra})


def input_shaped_method(name: str, kwargs: dict[str, Any]) -> MapFn:
    """``fn(model, x, target)`` returning an input-shaped map (Grad-CAM upsampled), with a
    fresh copy of a random method's generator for every call, so each call sees the same noise
    and only the model or the input differs."""
    fn = METHODS.get(name).fn
    generator = kwargs.get("generator")
    state = generator.get_state() if generator is not None else None

    def call(model: torch.nn.Module, x: torch.Tensor, target: Any) -> torch.Tensor:
        if state is not None:
            generator.set_state(state)
        return as_input_shaped(name, fn(model, x, target, **kwargs), tuple(x.shape[-2:]))

    return call


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt = 32,
    seed: int,
    methods: Annotated[list[str] | Literal["auto"], Names(METHODS)] = "auto",
    curve_steps: PositiveInt = 20,
    threshold: NonNegative = 0.5,  # the randomisation check's (``passes``)
    # the cascade's stages: at most this many blocks (``zoo.blocks``; None: 12)
    max_stages: PositiveInt | None = None,
    fragility_eps: NonNegative = 4 / 255,
    **settings: Any,
) -> JobOutput:
    """``settings``: the methods' own (occlusion's ``window``...), as the suite gave them."""
    net = ctx.model(model, weights)
    x, y = ctx.sample(dataset, n, seed)
    masks = ctx.sample_masks(dataset, n, seed) if dataset in MASKED else None
    plan = plan_methods(methods, net, settings)
    scores = Scores(net.label, plan.left_out_rows(net.label),
                    tags={name: plan.extra(name) for name in plan.methods})
    for name in ctx.steps(plan.methods):
        call = input_shaped_method(name, call_kwargs(name, plan, settings, ctx, seed))
        maps = call(net, x, y)
        _faithfulness(scores, name, net, x, y, maps, curve_steps)
        rand = model_randomisation(net, x, y, call, generator=ctx.generator(seed),
                                   max_stages=max_stages)
        for stage, layer in enumerate(rand.layers):
            for metric, attribute in RANDOMISATION.items():
                scores.add(name, metric, getattr(rand, attribute)[stage], stage=stage,
                           layer=layer)
        scores.add(name, RANDOMISATION_PASSED, passes(rand, threshold=threshold))
        frag = fragility(net, x, y, call, eps=fragility_eps)
        scores.add(name, FRAGILITY_SPEARMAN, frag.mean_spearman)
        scores.add(name, FRAGILITY_TOP_K_OVERLAP, frag.mean_top_k_overlap)
        scores.add(name, FRAGILITY_KEPT, int(frag.kept.sum()))
        if masks is not None:
            _localisation(scores, name, maps, masks)
    if masks is not None:
        # what a uniform map scores: the object's share of the image, the baseline to beat
        scores.add(UNIFORM_BASELINE, MASS_INSIDE_MASK, masks.float().mean())
    return JobOutput(scores.rows, {CURVES: scores.curves})


def _faithfulness(scores: Scores, name: str, net: torch.nn.Module, x: torch.Tensor,
                  y: torch.Tensor, maps: torch.Tensor, steps: int) -> None:
    """Deletion and insertion (Petsiuk et al. 2018): the areas, and the mean curves kept."""
    for curve in (deletion(net, x, y, maps, steps=steps, absolute=True),
                  insertion(net, x, y, maps, steps=steps, absolute=True)):
        scores.add(name, AUC[curve.kind], curve.auc.mean())
        scores.curves[f"{curve.kind}_{name}"] = curve.curves.mean(dim=0).cpu().numpy()
        scores.curves["fractions"] = curve.fractions.cpu().numpy()


def _localisation(scores: Scores, name: str, maps: torch.Tensor, masks: torch.Tensor) -> None:
    """How much of the map falls on the object, and how well its top pixels segment it."""
    located = localisation(maps, masks, mode="absolute")
    scores.add(name, MASS_INSIDE_MASK, located.mean_mass_inside)
    scores.add(name, POINTING_GAME, located.pointing_accuracy)
    scores.add(name, SEGMENTATION_IOU, segmentation_iou(maps, masks).mean_iou)
