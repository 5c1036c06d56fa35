"""The checks of suite keys that depend on the model (``Kind.check``), shared by the kinds:
a layer's name, class indices, a window in pixels. Each raises ``ValueError`` naming the key,
the value and what the model has; preflight adds the job and stops the run before its first
job. They read module names and declared sizes; only a layer's output shape takes a probe
pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from attribution.grad_cam import map_reader
from bench import schema
from bench.kind import ModelCheck, get_kind
from zoo.checks import check_window
from zoo.layers import output_shape

if TYPE_CHECKING:
    import zoo
    from bench.context import RunContext

#: layer names listed in a message, at most (a torchvision model has hundreds)
SHOWN_LAYERS = 12


def layer_names(model: zoo.Classifier) -> list[str]:
    """The qualified names of the model's layers, as a suite names them (``net.3``)."""
    return [name for name, _ in model.named_modules() if name]


def check_layer(model: zoo.Classifier, key: str, value: object) -> None:
    """``value`` names a layer of ``model``; else a message with the closest name and the
    first ``SHOWN_LAYERS`` names."""
    names = layer_names(model)
    if value in names:
        return
    close = difflib.get_close_matches(value, names, n=1) if isinstance(value, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(names[:SHOWN_LAYERS]) or "(none: hooks cannot see its layers)"
    more = f", ... ({len(names)} in all)" if len(names) > SHOWN_LAYERS else ""
    raise ValueError(f"{key} {value!r} is not a layer of {model.name}{hint}; layers: "
                     f"{shown}{more}")


def check_classes(model: zoo.Classifier, key: str, values: object) -> None:
    """Every index in ``values`` (one or a list) is one of the model's outputs."""
    items = values if isinstance(values, (list, tuple)) else [values]
    for value in items:
        if isinstance(value, int) and not 0 <= value < model.num_classes:
            raise ValueError(f"{key} holds {value}, but {model.name} has {model.num_classes} "
                             f"classes (0 to {model.num_classes - 1})")


def attribution_check(kind_name: str) -> ModelCheck:
    """``Kind.check`` of an attribution kind (``attribution``, ``agreement``, ``quality``):
    Grad-CAM's ``layer`` names a layer of the model, occlusion's window and stride in pixels
    fit its images."""
    def check(params: Mapping[str, Any], model: zoo.Classifier, ctx: RunContext) -> None:
        shape = tuple(model.input_shape)
        for method in schema.named_methods(get_kind(kind_name), params):
            if method.name == "grad_cam" and params.get("layer") is not None:
                check_layer(model, "layer", params["layer"])
                # one probe pass: the layer must output a map Grad-CAM can read
                map_reader(params["layer"], (1, *output_shape(model, params["layer"])))
            if method.name == "occlusion":
                _check_occlusion(method.kwargs(params, side=shape[-1]), model)
    return check


def _check_occlusion(given: Mapping[str, Any], model: zoo.Classifier) -> None:
    window, stride = given.get("window"), given.get("stride")
    if window is None and stride is None:
        return
    shape = tuple(model.input_shape)
    try:
        check_window(window if window is not None else 1, stride if stride is not None else 1,
                     shape[1:])
    except ValueError as err:
        raise ValueError(f"occlusion on {model.name}'s {shape[1]} x {shape[2]} px images: "
                         f"{err}") from None
