"""The model-randomisation sanity check (Adebayo, Gilmer, Muelly, Goodfellow, Hardt and Kim
2018, "Sanity Checks for Saliency Maps").

An explanation of a model should depend on the model. The check re-initialises the model's
blocks one after another, from the output down ("cascading" randomisation), recomputes the
maps after each stage and compares them with the maps of the trained model: Spearman rank
correlation of the signed maps and of their absolute values, and SSIM of the maps scaled to
``[0, 1]``. A method whose maps stay similar while the weights they explain are destroyed is
describing the input (edges, texture), not the model; the paper found this for Guided
Backprop and Guided Grad-CAM, while plain gradients and Grad-CAM decorrelated. The numbers
are similarities: 1 means "unchanged", near 0 means "unrelated".

The paper's cascade over Inception v3 has 17 stages, one per block (``Logits``, ``Mixed_7c``,
..., ``Conv2d_1a_3x3``), not one per weight tensor. The default stages here are the model cut
into at most ``max_stages`` blocks (``zoo.blocks``): the layers of a small CNN, the residual
blocks of a ResNet, the stages of an EfficientNet, so the cost stays bounded on a deep net.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import stats
from skimage.metrics import structural_similarity
from torch import nn

from attribution.common import check_generator, check_inputs
from attribution.metrics._maps import (
    AttributionFn,
    check_kwargs,
    check_maps,
    pixel_scores,
    resolve_method,
)
from zoo.blocks import DEFAULT_BLOCKS, Block, block_modules, blocks
from zoo.guard import keeps_buffers


@dataclass(frozen=True)
class RandomisationResult:
    """Mean similarity to the trained model's maps after each cascading stage.

    ``layers[i]`` names the block re-initialised at stage ``i`` (stage ``i`` has blocks
    ``0..i`` random, the output's first). ``spearman``, ``spearman_abs`` and ``ssim`` hold
    one mean over the images per stage.

    Shape:
        - spearman, spearman_abs, ssim: ``(len(layers),)``.
    """

    layers: tuple[str, ...]
    spearman: torch.Tensor
    spearman_abs: torch.Tensor
    ssim: torch.Tensor


def cascade(model: nn.Module, max_stages: int = DEFAULT_BLOCKS) -> list[Block]:
    """The default stages: the model cut into at most ``max_stages`` blocks (``zoo.blocks``),
    from the output down (the reverse of registration order, which is forward order for
    sequential networks)."""
    return blocks(model, at_most=max_stages)[::-1]


def _named_stages(model: nn.Module, layers: Sequence[str]) -> list[Block]:
    """One stage per name: a module holding parameters (its whole subtree) or a parameter."""
    if isinstance(layers, str) or not all(isinstance(n, str) for n in layers):
        raise ValueError(f"layers must be a sequence of module or parameter names, "
                         f"got {layers!r}")
    holders = {name for name, m in model.named_modules() if any(True for _ in m.parameters())}
    known = holders | {name for name, _ in model.named_parameters()}
    unknown = [n for n in layers if n not in known]
    if unknown:
        raise ValueError(f"layers {unknown} are neither parameters nor modules holding "
                         f"parameters; the default stages: "
                         f"{[b.label for b in cascade(model)]}")
    return [Block(name, (name,)) for name in layers]


def _stage_parameters(model: nn.Module, block: Block) -> list[list[nn.Parameter]]:
    """A block's parameters grouped by the module that holds them (a single parameter
    member: a group of its own), each group re-initialised with its module's fan-in."""
    groups = [list(m.parameters(recurse=False)) for _, m in block_modules(model, block)]
    modules = {name for name, _ in model.named_modules()}
    singles = [[model.get_parameter(name)] for name in block.members if name not in modules]
    return [g for g in groups + singles if g]


def _reinitialise(params: list[nn.Parameter], generator: torch.Generator | None) -> None:
    """PyTorch's default initialisation, drawn from ``generator``: ``U(-b, b)`` with
    ``b = 1 / sqrt(fan_in)`` for weights and biases of linear and convolution layers (this is
    what ``reset_parameters`` gives with ``kaiming_uniform_(a=sqrt(5))``), ``fan_in`` from
    the group's first weight of two or more dimensions (a lone token or position embedding:
    its own); also applied to one-dimensional parameters such as norm scales, which would
    otherwise reset to a constant and not randomise anything."""
    weights = [p for p in params if p.dim() > 1]
    fan_in = weights[0][0].numel() if weights else 1
    bound = 1.0 / math.sqrt(fan_in)
    device = generator.device if generator is not None else torch.device("cpu")
    with torch.no_grad():
        for p in params:
            draw = torch.rand(p.shape, generator=generator, device=device, dtype=torch.float64)
            p.copy_(((2 * draw - 1) * bound).to(p.device, p.dtype))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    # a constant map has no ranks: it shares nothing with another map (0), unless both are
    # the same constant (1); scipy would return NaN with a warning
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(stats.spearmanr(a.ravel(), b.ravel()).statistic)


def _unit(a: np.ndarray) -> np.ndarray:
    span = np.ptp(a)
    return (a - a.min()) / span if span > 0 else np.zeros_like(a)


def _similarities(reference: torch.Tensor, maps: torch.Tensor) -> tuple[float, float, float]:
    """Mean over images of Spearman (signed, absolute) and SSIM of the |map| in ``[0, 1]``."""
    signed_ref = pixel_scores(reference, False).double().cpu().numpy()  # (N, H, W)
    signed = pixel_scores(maps, False).double().cpu().numpy()
    abs_ref = pixel_scores(reference, True).double().cpu().numpy()
    absolute = pixel_scores(maps, True).double().cpu().numpy()
    rho, rho_abs, ssim = [], [], []
    for i in range(signed.shape[0]):
        rho.append(_spearman(signed_ref[i], signed[i]))
        rho_abs.append(_spearman(abs_ref[i], absolute[i]))
        a, b = _unit(abs_ref[i]), _unit(absolute[i])
        # the default 7x7 window needs images at least that big; smaller ones use their size
        win = min(7, *a.shape)
        win -= 1 - win % 2
        ssim.append(float(structural_similarity(a, b, data_range=1.0, win_size=win)))
    return float(np.mean(rho)), float(np.mean(rho_abs)), float(np.mean(ssim))


@keeps_buffers
def model_randomisation(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    method: str | AttributionFn,
    *,
    generator: torch.Generator | None = None,
    layers: Sequence[str] | None = None,
    max_stages: int | None = None,
    method_kwargs: dict[str, Any] | None = None,
) -> RandomisationResult:
    """Cascading model-parameter randomisation test.

    ``method``: a registered method's name or ``fn(model, x, target, **method_kwargs)``
    returning maps shaped like ``x`` (or ``(N, 1, H, W)``). The stages, in order: ``layers``,
    names of modules that hold parameters (each re-initialised with its whole subtree) or of
    single parameters; by default ``cascade(model, max_stages)``, the model cut into at most
    ``max_stages`` (12) named blocks, output first. Weights are redrawn on a deep copy of
    ``model``; the caller's model is never touched. Multi-channel maps are summed over
    channels before comparing (absolute values summed for the absolute scores); SSIM
    compares the absolute maps each scaled to ``[0, 1]``.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: int or ``(N,)``.
    """
    model, x, target = check_inputs(model, x, target, "model_randomisation")
    fn = resolve_method(method)
    kwargs = check_kwargs(method_kwargs)
    generator = check_generator(generator, x)
    if max_stages is not None and (isinstance(max_stages, bool)
                                   or not isinstance(max_stages, int) or max_stages < 1):
        raise ValueError(f"max_stages must be a positive int, got {max_stages!r}")
    if layers is not None and max_stages is not None:
        raise ValueError("give layers (the stages) or max_stages (a bound on the default "
                         "stages), not both")
    if not any(True for _ in model.parameters()):
        raise ValueError("model has no parameters to randomise")
    stages = (cascade(model, max_stages or DEFAULT_BLOCKS) if layers is None
              else _named_stages(model, layers))
    if not stages:
        raise ValueError("layers is empty: no stage to randomise")

    reference = check_maps(fn(model, x, target, **kwargs), x.shape[0], tuple(x.shape[2:]),
                           name="method output")
    randomised = copy.deepcopy(model)
    rho, rho_abs, ssim = [], [], []
    with warnings.catch_warnings():
        # the copy is in the caller's mode: the method already warned once about training
        warnings.simplefilter("ignore", RuntimeWarning)
        for stage in stages:
            for group in _stage_parameters(randomised, stage):
                _reinitialise(group, generator)
            maps = check_maps(fn(randomised, x, target, **kwargs), x.shape[0],
                              tuple(x.shape[2:]), name="method output")
            similar = _similarities(reference, maps)
            rho.append(similar[0])
            rho_abs.append(similar[1])
            ssim.append(similar[2])
    return RandomisationResult(tuple(s.label for s in stages), torch.tensor(rho),
                               torch.tensor(rho_abs), torch.tensor(ssim))


def cascade_similarity(result: RandomisationResult) -> float:
    """Mean over the cascade's stages of ``max(|spearman|, |spearman_abs|)``: how much of the
    trained model's map survives, on average, as the layers are destroyed from the top."""
    if not isinstance(result, RandomisationResult):
        raise ValueError(f"result must be a RandomisationResult, got {type(result).__name__}")
    per_stage = torch.maximum(result.spearman.abs(), result.spearman_abs.abs())
    return float(per_stage.mean())


def passes(result: RandomisationResult, *, threshold: float = 0.5) -> bool:
    """Whether a method passes the randomisation check: ``cascade_similarity(result) <
    threshold``.

    Why this rule. Adebayo et al. read the cascade as a whole: maps that explain the model
    change as soon as the top layers are re-initialised (gradients, Grad-CAM), while Guided
    Backprop's maps stay visually and rank-similar while the top layers are destroyed and
    only drift once the first convolutions go, because they largely reconstruct the input.
    Looking only at the last stage would let such a method pass (on ``mnist_cnn`` Guided
    Backprop's correlations fall to about 0.45 at full randomisation after 0.85 at the
    first stage), so the rule averages over every stage. Both the signed and the absolute
    rank correlation count, the larger one per stage: a map whose magnitude pattern survives
    (the input's edges) has not decorrelated even when its sign has. ``0.5`` is halfway
    between "unrelated" (0) and "unchanged" (1). Measured on 32 ``mnist_cnn`` test digits:
    saliency about 0.29 (passes), Guided Backprop about 0.69 and Integrated Gradients about
    0.99 (fail; the latter because ``x * grad`` is zero wherever the digit is, the paper's
    observation about input-multiplied maps), a map that ignores the model 1.0 (fails).
    """
    if not (isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
            and 0 < threshold <= 1):
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    return cascade_similarity(result) < threshold
