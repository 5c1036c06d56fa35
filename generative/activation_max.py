"""Activation maximisation, the part class models (Simonyan et al. 2014) and neuron
visualisation (Yosinski et al. 2015) share: the checked settings and starting image
(``prepare``), the normalised gradient step (``rms_normalise``), and the run itself with an L2
penalty and the switchable regularisers (``maximise``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from generative.common import (
    check_generator,
    check_images,
    check_shape,
    model_device,
    neutral_value,
    starting_image,
)
from generative.optimise import optimise_image
from generative.regularisers import Jitter, Regulariser, apply_after, check_regularisers
from generative.result import GenResult


@dataclass(frozen=True)
class Setup:
    """Everything a run needs, checked: the start ``x0`` ``(N, C, H, W)``, the neutral image
    ``centre`` ``(1, C, 1, 1)`` that the L2 term and the regularisers pull towards, and the
    settings record (method name and every hyperparameter)."""

    x0: torch.Tensor
    centre: torch.Tensor
    steps: int
    lr: float
    l2: float
    optimizer: str
    regularisers: tuple[Regulariser, ...]
    generator: torch.Generator | None
    settings: dict[str, Any]


def prepare(model: nn.Module, n: int, *, method: str, steps: int, lr: float, l2: float,
            regularisers: object, shape: object, init: object, noise: float,
            optimizer: str, generator: object) -> Setup:
    """Check the arguments the signatures cannot (regularisers, start image, shape, generator)
    and build the starting image: ``init`` (``(N, C, H, W)`` or ``(1, C, H, W)``, broadcast)
    when given, else the neutral image plus ``noise * randn`` drawn from ``generator`` and
    clamped to ``[0, 1]`` (``noise`` applies only then)."""
    regs = check_regularisers(regularisers)
    if init is not None:
        init = check_images(init, "init")
        if init.shape[0] not in (1, n):
            raise ValueError(f"init must hold 1 or {n} images, got {tuple(init.shape)}")
        shape = check_shape(model, tuple(init.shape[1:]) if shape is None else shape)
        if tuple(init.shape[1:]) != shape:
            raise ValueError(f"init has images of shape {tuple(init.shape[1:])}, "
                             f"shape is {shape}")
        device, dtype = init.device, init.dtype
    else:
        shape = check_shape(model, shape)
        device, dtype = model_device(model)
    like = torch.empty(0, device=device, dtype=dtype)
    generator = check_generator(generator, like)
    centre = neutral_value(model, shape[0], like)  # (1, C, 1, 1)
    if init is not None:
        x0 = init.detach().expand(n, *shape).clone()
    else:
        x0 = starting_image(model, like.new_empty((n, *shape)), noise=noise, generator=generator)
    settings = dict(method=method, steps=steps, lr=lr, l2=l2, optimizer=optimizer,
                    shape=shape, noise=noise, regularisers=[repr(r) for r in regs])
    return Setup(x0, centre, steps, lr, l2, optimizer, regs, generator, settings)


def rms_normalise(grad: torch.Tensor) -> torch.Tensor:
    """Each image's gradient divided by its root mean square, so a plain SGD step moves
    pixels by ``lr`` (RMS) whatever the scale of the objective."""
    rms = grad.pow(2).mean(dim=tuple(range(1, grad.dim())), keepdim=True).sqrt()  # (N, 1, 1, 1)
    return grad / (rms + 1e-12)


def maximise(model: nn.Module, setup: Setup, name: str,
             score: Callable[[torch.Tensor], torch.Tensor]) -> GenResult:
    """Minimise ``{name: -score(jittered x), "l2": l2 * ||x - centre||^2}`` from ``setup.x0``;
    ``score`` maps images ``(N, C, H, W)`` to one scalar (summed over the images)."""
    s = setup
    jitters = [r.offsets(s.steps + 1, s.generator, s.x0.device)
               for r in s.regularisers if isinstance(r, Jitter)]

    def objective(x: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        shifted = x
        for offsets in jitters:
            shifted = Jitter.shift(shifted, offsets[step])
        return {name: -score(shifted), "l2": s.l2 * (x - s.centre).pow(2).sum()}

    after = [r for r in s.regularisers if not isinstance(r, Jitter)]
    trace = optimise_image(
        model, objective, s.x0, steps=s.steps, optimizer=s.optimizer, lr=s.lr,
        grad_transform=rms_normalise if s.optimizer == "sgd" else None,
        project=(lambda x, g, step: apply_after(after, x, g, step, s.centre)) if after else None,
    )
    return GenResult(trace.image, trace.losses, s.settings, trace.terms, trace.evaluations)


def check_indices(value: object, name: str) -> list[int]:
    """One non-negative integer or a non-empty sequence of them."""
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(items, torch.Tensor) and not items.is_floating_point() and items.dim() <= 1:
        items = items.flatten().tolist()
    if (not isinstance(items, Sequence) or isinstance(items, str) or not items
            or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in items)):
        raise ValueError(f"{name} must be a non-negative index or a non-empty list of them, "
                         f"got {value!r}")
    return [int(i) for i in items]

