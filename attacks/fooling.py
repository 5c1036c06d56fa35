"""Fooling images (CS231n lecture 9: "pick an arbitrary image and an arbitrary class, modify
the image to maximise the class, repeat until the network is fooled"): a targeted iterative
attack, and the source x target grid of it that the lecture shows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from attacks.common import Norm, StepSize, check_attack_inputs, logits_of, predict
from attacks.loop import iterate
from attacks.registry import register
from zoo.checks import check_images, check_labels
from zoo.guard import check_model, keeps_buffers, num_classes, warn_if_training
from zoo.params import Iterations, NonNegative, checked


@register("fool", paper="CS231n lecture 9")
def fool(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: NonNegative,
    alpha: StepSize,
    steps: Iterations,
    norm: Norm = "linf",
) -> torch.Tensor:
    """``steps`` targeted steps from ``x`` down the cross-entropy of ``target``.

    No early stop, on purpose: the steps go on after the target class wins, so it ends up
    confident rather than barely ahead.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; target: ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, target = check_attack_inputs(model, x, target, "fool")
    if eps == 0:
        return x.detach().clone()
    return iterate(
        model, x, target, x, eps=eps, alpha=alpha, steps=steps, norm=norm,
        targeted=True,
    )


@dataclass(frozen=True)
class FoolingGrid:
    """Every chosen source image pushed toward every class.

    ``images[i, j]`` is source ``i`` attacked toward ``classes[j]``; the diagonal holds the
    clean sources (their "target" is their own class, which they already have).

    Shape:
        - sources: ``(K, C, H, W)``; images: ``(K, K, C, H, W)``;
          target_prob, predicted, success: ``(K, K)``.
    """

    sources: torch.Tensor
    source_index: tuple[int, ...]
    classes: tuple[int, ...]
    images: torch.Tensor
    target_prob: torch.Tensor
    predicted: torch.Tensor
    success: torch.Tensor
    eps: float
    norm: str

    def success_rate(self) -> float:
        """Fraction of the off-diagonal cells (real source -> other class) that succeeded."""
        k = len(self.classes)
        if k < 2:
            return float("nan")
        off = ~torch.eye(k, dtype=torch.bool, device=self.success.device)
        return float(self.success[off].float().mean())


def _check_classes(classes: Sequence[int] | None, k_model: int | None) -> tuple[int, ...]:
    if classes is None:
        if k_model is None:
            raise ValueError("classes is required: the model does not declare num_classes")
        classes = range(k_model)
    chosen = tuple(classes)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"classes holds duplicates: {chosen!r}")
    bad = [c for c in chosen if c < 0 or (k_model is not None and c >= k_model)]
    if bad:
        raise ValueError(f"classes holds {bad[0]}, not a class of the model ({k_model} classes)")
    return chosen


def _first_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   classes: tuple[int, ...]) -> list[int]:
    """The index of the first correctly classified image of each class."""
    pred = predict(model, x, y)
    index = []
    for c in classes:
        hits = torch.nonzero((y == c) & (pred == c)).flatten()
        if hits.numel() == 0:
            raise ValueError(f"classes: no correctly classified image of class {c} in x")
        index.append(int(hits[0]))
    return index


@keeps_buffers
@checked
def fooling_grid(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    classes: Sequence[int] | None = None,
    eps: NonNegative,
    alpha: StepSize,
    steps: Iterations,
    norm: Norm = "linf",
) -> FoolingGrid:
    """Take the first correctly classified image of each class in ``classes`` (default: all
    of the model's classes) and attack it toward every class, in one batched ``fool`` call.

    Raises ``ValueError`` naming ``classes`` when a class has no correctly classified image.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``.
    """
    model = check_model(model)
    x = check_images(x)
    k_model = num_classes(model)
    y = check_labels(y, x.shape[0], k_model).to(x.device, torch.int64)
    chosen = _check_classes(classes, k_model)
    warn_if_training(model, "fooling_grid")

    index = _first_correct(model, x, y, chosen)
    sources = x[index].detach().clone()  # (K, C, H, W)
    k = len(chosen)
    labels = torch.tensor(chosen, dtype=torch.int64, device=x.device)
    grid = torch.arange(k, device=x.device)
    src_i, tgt_j = torch.meshgrid(grid, grid, indexing="ij")
    off = (src_i != tgt_j).flatten()
    src_i, tgt_j = src_i.flatten()[off], tgt_j.flatten()[off]  # (K*(K-1),)

    images = sources[:, None].repeat(1, k, *([1] * (x.dim() - 1)))  # (K, K, C, H, W)
    if src_i.numel():
        with warnings.catch_warnings():
            # warned once above; fool would say it again
            warnings.filterwarnings("ignore", message=".*training mode", category=RuntimeWarning)
            attacked = fool(model, sources[src_i], labels[tgt_j], eps=eps, alpha=alpha,
                            steps=steps, norm=norm)
        images[src_i, tgt_j] = attacked
    with torch.no_grad():
        flat = images.flatten(0, 1)  # (K*K, C, H, W)
        logits = logits_of(model, flat, labels)
        prob = logits.softmax(dim=1)
    targets = labels.repeat(k)  # column j of every row is class chosen[j]
    target_prob = prob.gather(1, targets[:, None]).view(k, k)
    predicted = logits.argmax(dim=1).view(k, k)
    return FoolingGrid(
        sources=sources, source_index=tuple(index), classes=chosen, images=images.detach(),
        target_prob=target_prob.detach(), predicted=predicted,
        success=predicted == labels[None, :], eps=float(eps), norm=norm,
    )
