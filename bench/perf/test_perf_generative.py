"""Every registered generative method: ours and the bare floor (no reference library makes
these images). Aimed as the stress job aims them (``bench.kinds.generative_calls``): the middle
feature stage, Gatys-style layer picks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import generative
import zoo
from bench.context import CONTENT_PHOTO, STYLE_PHOTO
from bench.kinds.generative_calls import aim
from bench.perf.cases import Case, params_for


def images(perf: Any, model: zoo.Classifier, case: Case) -> torch.Tensor:
    """Two starting images: the content and style photos for colour models, else the
    model's own first two test images."""
    if model.input_shape[0] == 3 and case.model.startswith("tv:"):
        return torch.stack([zoo.load_photo(n, case.size) for n in (CONTENT_PHOTO, STYLE_PHOTO)]
                           ).to(case.device)
    return perf.data(case.model, case.size, 2, case.device)[0]


def test_generative(benchmark: Any, perf: Any, generative_case: Case,
                    make_generator: Callable[..., torch.Generator]) -> None:
    case = generative_case
    model = perf.model(case.model, case.device)
    if not zoo.feature_layers(model):
        pytest.skip("the generative methods need convolutional feature layers")
    args, kwargs = aim(case.method, model, images(perf, model, case),
                       **params_for(case, perf.quick))
    info = generative.get_method(case.method)

    def ours() -> Any:
        return info(model, *args, generator=make_generator(case.device), **kwargs)

    perf.measure(benchmark, case, model, ours if case.role == "ours" else None, ours, kwargs)
