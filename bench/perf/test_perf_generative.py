"""Every registered generative method: ours and the bare floor (no reference library makes
these images). Positional arguments per ``GenInfo.inputs``, aimed as the stress job aims
them (``bench.jobs.gen_params``): the middle feature stage, Gatys-style layer picks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import generative
import zoo
from bench.jobs.gen_params import (
    CONTENT_PHOTO,
    STYLE_PHOTO,
    accepts_size,
    middle_layer,
    style_layers,
)
from bench.perf.cases import Case, params_for


def images(perf: Any, model: zoo.Classifier, case: Case) -> torch.Tensor:
    """Two starting images: the content and style photos for colour models, else the
    model's own first two test images."""
    if model.input_shape[0] == 3 and case.model.startswith("tv:"):
        return torch.stack([zoo.load_photo(n, case.size) for n in (CONTENT_PHOTO, STYLE_PHOTO)]
                           ).to(case.device)
    return perf.data(case.model, case.size, 2, case.device)[0]


def aim(case: Case, model: zoo.Classifier, params: dict[str, Any]) -> list[Any]:
    """The positional arguments after ``model``; adds the layer choices to ``params``."""
    inputs = generative.get_method(case.method).inputs
    shape = (model.input_shape[0], case.size, case.size)
    if inputs == "class":
        params["shape"] = shape
        return [[0]]
    if inputs == "unit":
        params["shape"] = shape
        return [middle_layer(model), [0]]
    if inputs == "image":
        if case.method == "deep_dream":
            small = round(case.size / 1.4**2)
            ok = small >= 8 and accepts_size(model, shape[0], small)
            params.setdefault("octaves", 3 if ok else 1)
        return [middle_layer(model)]
    params["content_layer"], params["style_layers"] = style_layers(model)
    return []


def test_generative(benchmark: Any, perf: Any, generative_case: Case,
                    make_generator: Callable[..., torch.Generator]) -> None:
    case = generative_case
    model = perf.model(case.model, case.device)
    if not zoo.feature_layers(model):
        pytest.skip("the generative methods need convolutional feature layers")
    params = params_for(case, perf.quick)
    args = aim(case, model, params)
    x = images(perf, model, case)
    inputs = generative.get_method(case.method).inputs
    if inputs == "image":
        args = [x[:1], *args]
    elif inputs == "pair":
        args = [x[:1], x[1:2]]
    info = generative.get_method(case.method)

    def ours() -> Any:
        return info(model, *args, generator=make_generator(case.device), **params)

    perf.measure(benchmark, case, model, ours if case.role == "ours" else None, ours, params)
