"""SmoothGrad (Smilkov, Thorat, Kim, Viegas and Wattenberg 2017, "SmoothGrad: removing
noise by adding noise"): average the input gradient over copies of the image with Gaussian
noise added."""

from __future__ import annotations

import torch
from torch import nn

from attribution.common import check_inputs, input_gradient
from attribution.registry import register
from zoo.checks import check_generator
from zoo.params import Iterations, NonNegative


# Smilkov et al. see little change past ~50 samples; 16 is cheap. Their noise is 10-20% of
# the input range: 0.15 in pixels.
@register("smoothgrad", paper="Smilkov et al. 2017", suite_defaults={"samples": 16, "sigma": 0.15})
def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    samples: Iterations,
    sigma: NonNegative,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean over ``samples`` noisy copies of the signed input gradient of the target logit.

    ``sigma`` is the noise's standard deviation in pixel units. Smilkov et al. state it as a
    fraction of the input range (``x_max - x_min``); pixels span ``[0, 1]``, so that fraction
    is ``sigma`` itself (their 10-20% is ``sigma=0.1`` to ``0.2``). It is Captum's ``stdevs``
    too, as Captum adds noise to the same pixel tensor. Noisy copies are not clipped to
    ``[0, 1]`` (neither the paper nor Captum clip).

    Matches Captum's ``NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad",
    nt_samples=samples, stdevs=sigma, target=target, abs=False)`` given the same noise: it is
    drawn here, from ``generator``, in Captum's layout and with Captum's call (one
    ``torch.normal`` over ``(N * samples, C, H, W)``, the copies of image i consecutive), so
    a global RNG in the generator's state makes Captum's draw identical.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int or ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, target = check_inputs(model, x, target, "smoothgrad")
    generator = check_generator(generator, x)

    n = x.shape[0]
    shape = (n * samples, *x.shape[1:])
    std = torch.full(shape, sigma, dtype=x.dtype, device=x.device)
    noisy = x.repeat_interleave(samples, dim=0) + torch.normal(0.0, std, generator=generator)
    grad = input_gradient(model, noisy, target.repeat_interleave(samples))
    return (grad.view(n, samples, *x.shape[1:]).sum(dim=1) / samples).detach()
