"""What the three attribution-map kinds (``attribution``, ``agreement``, ``quality``) share:
which methods a job runs and which it leaves out (with the reason), the keyword arguments of
one method's call for a job, the rows that record both, and maps brought to the input's shape
so that they sit side by side.

The methods' settings (occlusion's window, SmoothGrad's samples...) come from their
registrations (``attribution.registry``); nothing here names one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from attribution import upsample
from attribution.registry import METHODS
from bench.context import RunContext
from bench.schema import AUTO
from zoo.layers import cam_layer, output_shape
from zoo.params import SIDE

# the lecture's order: gradients first, then their refinements, then perturbation and CAM;
# it orders the maps a job stores and the rows of the tables
LECTURE_ORDER = ("saliency", "guided_backprop", "deconvnet", "smoothgrad",
                 "integrated_gradients", "occlusion", "grad_cam")

#: the metric of a method a job left out: one row, value 1, its ``reason`` says why
LEFT_OUT = "left_out"
#: the column naming the layer a layer method (Grad-CAM) read, on each of its rows
MAP_LAYER = "map_layer"


def lecture_rank(name: str) -> tuple[int, str]:
    """Sort key: the lecture's methods in its order, any other method after them by name."""
    return (LECTURE_ORDER.index(name) if name in LECTURE_ORDER else len(LECTURE_ORDER), name)


@dataclass
class MethodPlan:
    """A job's methods on one model: those it runs (``methods``), those it leaves out with the
    reason (``left_out``), the layer each layer method reads (``layers``, given by the suite
    or the model's default) and that layer's output shape per example (``shapes``), and the
    side of the model's images in pixels (``side``, its ``input_shape[-1]``; ``None`` for a
    model that does not declare one), at which sizes given relative to it resolve."""

    methods: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    layers: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    side: int | None = None

    def context(self) -> dict[str, Any]:
        """What relative settings resolve at (``zoo.params.Relative``): the image's side."""
        return {} if self.side is None else {SIDE: self.side}

    def extra(self, name: str) -> dict[str, Any]:
        """What each row of method ``name`` carries besides its metric: the layer it read."""
        return {MAP_LAYER: self.layers[name]} if name in self.layers else {}

    def left_out_rows(self, label: str) -> list[dict[str, Any]]:
        """One ``LEFT_OUT`` row per method left out, its reason in ``reason``."""
        return [{"model_label": label, "method": name, "metric": LEFT_OUT, "value": 1.0,
                 "reason": reason} for name, reason in self.left_out.items()]


def plan_methods(methods: str | list[str], model: nn.Module,
                 settings: Mapping[str, Any] | None = None) -> MethodPlan:
    """A job's methods: the suite's list as given, or for ``"auto"`` every registered method
    in the lecture's order; each one that does not apply to the model is left out with the
    reason (``MethodInfo.why_not``: guided backprop on a model that is no ReLU network), as is
    a layer method whose layer the suite does not give when the model has no default
    (``zoo.layers.cam_layer``, found once per plan)."""
    settings = settings or {}
    names = list(methods) if methods != AUTO else sorted(METHODS.names(), key=lecture_rank)
    shape = getattr(model, "input_shape", None)
    plan = MethodPlan(side=int(shape[-1]) if shape else None)
    default: list[str | ValueError] = []  # the default layer, looked up once, or why none
    for name in names:
        info = METHODS.get(name)
        reason = info.why_not(model)
        if reason is None and info.layer_params:
            given = info.kwargs(settings, **plan.context())
            layer = next((given[p] for p in info.layer_params if p in given), None)
            if layer is None:
                if not default:
                    try:
                        default.append(cam_layer(model))
                    except ValueError as error:
                        default.append(error)
                if isinstance(default[0], ValueError):
                    reason = f"no default layer: {default[0]}"
                else:
                    layer = default[0]
            if layer is not None:
                plan.layers[name] = layer
                plan.shapes[name] = output_shape(model, layer)
        if reason is None:
            plan.methods.append(name)
        else:
            plan.left_out[name] = reason
    return plan


def resolve_methods(methods: str | list[str], model: nn.Module) -> list[str]:
    """The methods a job runs on the model (``plan_methods``'s), without the reasons."""
    return plan_methods(methods, model).methods


def call_kwargs(
    name: str, plan: MethodPlan, settings: Mapping[str, Any], ctx: RunContext, seed: int
) -> dict[str, Any]:
    """The keyword arguments of method ``name`` for a job: its settings from the job's
    ``settings`` (suite keys; a relative size, occlusion's ``rel_window``, resolved at the
    side of the model's images), a fresh generator seeded by the job's ``seed`` when the
    method is random, and the plan's layer for any layer it needs and was not given."""
    info = METHODS.get(name)
    kwargs = info.kwargs(settings, **plan.context())
    if info.random:
        kwargs["generator"] = ctx.generator(seed)
    for param in info.layer_params:
        kwargs.setdefault(param, plan.layers[name])
    return kwargs


def as_input_shaped(name: str, attribution: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Layer-shaped maps (Grad-CAM) upsampled to the image, so all maps can sit side by side."""
    if METHODS.get(name).output == "layer":
        return upsample(attribution, size)
    return attribution
