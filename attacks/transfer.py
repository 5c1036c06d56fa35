"""Transfer attack (Papernot, McDaniel and Goodfellow 2016, "Transferability in Machine
Learning: from Phenomena to Black-Box Attacks using Adversarial Samples"): adversarial
examples made with PGD on a surrogate model, then given to the audited model.

Szegedy et al. (2014) saw that adversarial examples carry over between models; Papernot et
al. turned that into an attack needing no gradient of the target. It is the check Athalye,
Carlini and Wagner (2018) and Carlini et al. (2019, "On Evaluating Adversarial Robustness")
ask for when white-box attacks fail: a model whose gradients are masked (a quantised input,
a non-differentiable layer) stops PGD on itself, not examples made on a differentiable
model of the same task.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import torch
from torch import nn

from attacks.common import Loss, Norm, StepSize, check_attack_inputs, check_start
from attacks.pgd import pgd, worst_case
from attacks.registry import register
from zoo.checks import check_generator
from zoo.guard import check_model, num_classes, warn_if_training
from zoo.params import Iterations, NonNegative, PositiveInt


def check_surrogate(model: nn.Module, surrogate: object,
                    x: torch.Tensor | None = None) -> nn.Module:
    """``surrogate`` as a module, refused (``ValueError``) when it cannot stand in for
    ``model``: a different number of classes, or another input shape than the model's or the
    images' ``(C, H, W)``, wherever the two declare them (``num_classes``, ``input_shape``)."""
    surrogate = check_model(surrogate, "surrogate")
    classes, own = num_classes(model), num_classes(surrogate)
    if classes is not None and own is not None and classes != own:
        raise ValueError(f"surrogate has {own} classes, the model {classes}: a transfer "
                         "attack needs a surrogate for the same classes")
    shape = getattr(surrogate, "input_shape", None)
    if shape is not None:
        model_shape = getattr(model, "input_shape", None)
        if model_shape is not None and tuple(shape) != tuple(model_shape):
            raise ValueError(f"surrogate takes input shape {tuple(shape)}, the model "
                             f"{tuple(model_shape)}: a transfer attack needs a surrogate "
                             "for the same images")
        if x is not None and tuple(shape) != tuple(x.shape[1:]):
            raise ValueError(f"surrogate takes input shape {tuple(shape)}, x has "
                             f"{tuple(x.shape[1:])}")
    return surrogate


@register("transfer", paper="Papernot et al. 2016", protocol=("surrogate",),
          access="surrogate")
def transfer(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    surrogate: nn.Module,
    eps: NonNegative,
    alpha: StepSize,
    steps: Iterations,
    norm: Norm = "linf",
    random_start: bool = True,
    restarts: PositiveInt = 1,
    targeted: bool = False,
    loss: Loss = "ce",
    generator: torch.Generator | None = None,
    x_init: torch.Tensor | None = None,
) -> torch.Tensor:
    """PGD (``attacks.pgd``) on ``surrogate``; per example its adversarial point.

    ``surrogate``: a classifier of the same classes and images as ``model``, on which the
    examples are made (its gradients, never the model's). ``steps``, ``alpha``, ``norm``,
    ``random_start``, ``loss``, ``targeted`` and ``x_init`` are PGD's on the surrogate.

    The model is queried only to choose among ``restarts``: with one run (the default) the
    attack never calls it (a pure transfer attack, ``steps`` gradient passes of the surrogate);
    with several, each run is judged on the model (one forward pass per run) and each example
    keeps the run that fools the model, else the one with the higher loss on it.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "transfer")
    surrogate = check_surrogate(model, surrogate, x)
    warn_if_training(surrogate, "transfer's surrogate")
    generator = check_generator(generator, x)
    init = check_start(x_init, x, eps, norm)
    if eps == 0:
        return x.detach().clone()

    def runs() -> Iterator[torch.Tensor]:
        for run in range(restarts):
            with warnings.catch_warnings():
                # said once above, for the surrogate; pgd would say it as its own model's
                warnings.filterwarnings("ignore", message=".*training mode",
                                        category=RuntimeWarning)
                x_adv = pgd(
                    surrogate, x, y, eps=eps, alpha=alpha, steps=steps, norm=norm,
                    random_start=random_start, targeted=targeted, loss=loss,
                    generator=generator, x_init=init if run == 0 else None,
                )
            yield x_adv

    if restarts == 1:
        return next(runs())
    return worst_case(model, x, y, runs(), targeted=targeted, loss=loss)
