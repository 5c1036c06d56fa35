"""Every registered attribution method: ours, Captum through ``attribution.reference`` (the
same settings, so the same work) where it has a runner, and the bare floor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import attribution
from attribution import reference
from bench.perf.cases import Case, params_for
from zoo.layers import last_conv


def skip_reason(method: str, model: nn.Module) -> str | None:
    info = attribution.get_method(method)
    if info.needs_relu and not any(isinstance(m, nn.ReLU) for m in model.modules()):
        return f"{method} needs nn.ReLU modules; the model has none"
    if info.needs_layer and not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return f"{method} needs a convolutional layer; the model has none"
    return None


def method_fn(fn: Callable[..., Any], case: Case, model: nn.Module, x: torch.Tensor,
              y: torch.Tensor, params: dict[str, Any],
              make_generator: Callable[..., torch.Generator]) -> Callable[[], Any]:
    kwargs = dict(params)
    if attribution.get_method(case.method).random:
        kwargs["generator"] = make_generator(case.device)
    return lambda: fn(model, x, y, **kwargs)


def test_attribution(benchmark: Any, perf: Any, attribution_case: Case,
                     make_generator: Callable[..., torch.Generator]) -> None:
    case = attribution_case
    model = perf.model(case.model, case.device)
    reason = skip_reason(case.method, model)
    if reason:
        pytest.skip(reason)
    x, y = perf.data(case.model, case.size, case.batch, case.device)
    params = params_for(case, perf.quick)
    for layer in attribution.get_method(case.method).layer_params:
        params[layer] = last_conv(model)
    ours = method_fn(attribution.get_method(case.method).fn, case, model, x, y, params,
                     make_generator)
    fn = ours if case.role == "ours" else None  # None: the floor
    if case.role == "reference":
        fn = method_fn(getattr(reference, case.method), case, model, x, y, params,
                       make_generator)
    perf.measure(benchmark, case, model, fn, ours, params)
