"""Feature inversion (Mahendran and Vedaldi 2015, "Understanding Deep Image Representations by
Inverting Them"): given the code ``Phi0 = Phi(x)`` of an image at one layer, find an image
whose code matches it, under natural-image priors:

    ||Phi(x_hat) - Phi0||^2 / ||Phi0||^2  +  lambda_V TV_beta(x_hat)  +  lambda_a N_a(x_hat - c)

The priors (``generative.priors``) are divided by the number of pixels, so one weight fits
every image size; ``c`` is the model's neutral image (the dataset mean in pixel space). What
survives in the reconstruction is what the layer keeps: deeper codes keep less detail, which
``inversion_by_depth`` measures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from generative.common import (
    check_generator,
    check_images,
    check_layers,
    check_method_model,
    layer_outputs,
    neutral_value,
    starting_image,
)
from generative.optimise import optimise_image
from generative.priors import alpha_norm, total_variation
from generative.registry import register
from generative.result import GenResult
from zoo.checks import check_nonnegative
from zoo.guard import keeps_buffers
from zoo.params import Iterations, NonNegative, Positive

NAME = "feature_inversion"


@register(NAME, paper="Mahendran and Vedaldi 2015", inputs="image")
def feature_inversion(
    model: nn.Module,
    x: torch.Tensor,
    layer: str,
    *,
    steps: Iterations = 200,
    lr: Positive = 0.05,
    optimizer: Literal["adam", "lbfgs"] = "adam",
    tv_weight: NonNegative = 0.5,
    tv_beta: Positive = 2.0,
    alpha: Positive = 6.0,
    alpha_weight: NonNegative = 1.0,
    noise: NonNegative = 0.1,
    init: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> GenResult:
    """Reconstruct ``x`` from its code at ``layer``.

    Terms (summed over the images): ``feature``, the code's squared error relative to
    ``||Phi0||^2``; ``tv``, ``tv_weight`` times ``TV_tv_beta`` per pixel; ``alpha``,
    ``alpha_weight`` times the ``alpha``-norm of ``x_hat - neutral`` per pixel. The start is
    ``init`` when given, else the neutral image plus ``noise`` times Gaussian noise drawn from
    ``generator``, clamped to ``[0, 1]``.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; init: like ``x``; returns an image like ``x``.
    """
    model = check_method_model(model, NAME)
    x = check_images(x, "x")
    (layer,) = check_layers(model, layer, "layer")
    if init is not None:
        init = check_images(init, "init")
        if init.shape != x.shape:
            raise ValueError(f"init must have the shape of x {tuple(x.shape)}, "
                             f"got {tuple(init.shape)}")
    generator = check_generator(generator, x)

    centre = neutral_value(model, x.shape[1], x)  # (1, C, 1, 1)
    start = (init.to(x.device, x.dtype) if init is not None
             else starting_image(model, x, noise=noise, generator=generator))
    pixels = x.shape[-2] * x.shape[-1]

    with layer_outputs(model, [layer]) as outputs:
        with torch.no_grad():
            model(x)
            target = outputs[layer].detach().clone()  # Phi0
        dims = tuple(range(1, target.dim()))
        # a dead code (all zeros) would divide by zero; its relative error is then the raw one
        scale = target.square().sum(dim=dims).clamp_min(torch.finfo(target.dtype).tiny)

        def objective(image: torch.Tensor, step: int) -> Mapping[str, torch.Tensor]:
            model(image)
            code = outputs[layer]
            feature = ((code - target).square().sum(dim=dims) / scale).sum()
            tv = total_variation(image, tv_beta).sum() / pixels
            prior = alpha_norm(image, alpha, centre).sum() / pixels
            return {"feature": feature, "tv": tv_weight * tv, "alpha": alpha_weight * prior}

        trace = optimise_image(model, objective, start, steps=steps, optimizer=optimizer, lr=lr)

    settings: dict[str, Any] = dict(
        method=NAME, layer=layer, steps=steps, lr=lr, optimizer=optimizer, tv_weight=tv_weight,
        tv_beta=tv_beta, alpha=alpha, alpha_weight=alpha_weight, noise=noise,
        init="given" if init is not None else "neutral+noise",
    )
    return GenResult(trace.image, trace.losses, settings, trace.terms, trace.evaluations)


@dataclass(frozen=True)
class InversionDepth:
    """One layer's inversion: the result, the final relative feature error (mean over the
    images) and the pixel RMSE between the reconstruction and the original."""

    layer: str
    result: GenResult
    feature_error: float
    pixel_error: float


@keeps_buffers
def inversion_by_depth(model: nn.Module, x: torch.Tensor, layers: Sequence[str],
                       **kwargs: Any) -> list[InversionDepth]:
    """Invert ``x`` from each of ``layers`` (``kwargs`` go to ``feature_inversion``), all from
    the same starting image, so the errors compare depths and nothing else.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; one ``InversionDepth`` per layer, in order.
    """
    model = check_method_model(model, "inversion_by_depth")
    x = check_images(x, "x")
    layers = check_layers(model, list(layers) if not isinstance(layers, str) else layers)
    if kwargs.get("init") is None:
        noise = check_nonnegative(kwargs.pop("noise", 0.1), "noise")
        generator = check_generator(kwargs.pop("generator", None), x)
        kwargs["init"] = starting_image(model, x, noise=noise, generator=generator)
        kwargs["noise"] = noise
    out = []
    for layer in layers:
        result = feature_inversion(model, x, layer, **kwargs)
        feature = float(result.terms["feature"][-1]) / x.shape[0]
        pixel = math.sqrt(float((result.image - x).square().mean()))
        out.append(InversionDepth(layer, result, feature, pixel))
    return out
