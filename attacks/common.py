"""Pieces every gradient attack shares: input checks, the input gradient of a sum-reduced
loss (averaged over several passes of a randomised model: Expectation over Transformation),
and the per-norm pieces (ascent direction, projection, random start) of Foolbox 3's
step/project loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from zoo.checks import check_images, check_labels
from zoo.errors import UserError
from zoo.gradients import INSTEAD_ATTACK, not_differentiable
from zoo.gradients import NoGradientError as NoGradientError  # the attacks' name for it
from zoo.gradients import input_gradient as gradient_of
from zoo.guard import check_model, num_classes, warn_if_training
from zoo.params import AtLeast, Relative

#: the threat models of the norm-generic attacks
Norm = Literal["linf", "l2"]
#: a step size in pixel units, or given as a fraction of the budget: ``alpha = rel_alpha * eps``
StepSize = Annotated[float, AtLeast(0.0), Relative("eps", "rel_alpha")]
BATCH = 256  # images per forward pass when an evaluation only predicts
_TINY = 1e-12


def check_attack_inputs(
    model: object, x: object, y: object, method: str
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """Validate the model, images and labels every attack takes (its keyword arguments are
    checked by the registry); warn when the model is training."""
    model = check_model(model)
    x = check_images(x)
    y = check_labels(y, x.shape[0], num_classes(model))
    warn_if_training(model, method)
    return model, x, y.to(x.device, torch.int64)


def logits_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
              check: bool = True) -> torch.Tensor:
    """Forward pass that checks the logits' shape and, with ``check``, the labels against
    their width. Loops check once, on their first pass: ``int(y.max())`` waits for the device,
    which would stall a GPU at every step."""
    logits = model(x)
    if logits.dim() != 2 or logits.shape[0] != x.shape[0]:
        raise UserError(f"model must return logits (N, classes), got {tuple(logits.shape)}")
    if check and y.numel() and int(y.max()) >= logits.shape[1]:
        raise UserError(f"y holds class {int(y.max())}, the model has {logits.shape[1]} outputs")
    return logits


def predict(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The model's class for each image, ``BATCH`` images per forward pass, no gradients;
    the logits' shape and the labels are checked on the first batch."""
    with torch.no_grad():
        return torch.cat([
            logits_of(model, x[i : i + BATCH], y[i : i + BATCH], check=i == 0).argmax(dim=1)
            for i in range(0, x.shape[0], BATCH)
        ])


def ce_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy, shape ``(N,)``."""
    return F.cross_entropy(logits, y, reduction="none")


def margin_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example logit margin ``max_{i != y} z_i - z_y`` (Carlini and Wagner 2017's f6
    without the clamp), shape ``(N,)``: positive iff the class is not ``y``. Unlike
    cross-entropy it does not saturate: its gradient is that of two logits, whatever the
    softmax says."""
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    z_other = logits.scatter(1, y[:, None], -torch.inf).amax(dim=1)
    return z_other - z_y


#: the losses of the step/project attacks, each a per-example loss of the labels' class
Loss = Literal["ce", "margin"]
LOSSES = {"ce": ce_loss, "margin": margin_loss}
#: what an attack says when the model's output has no autograd path to its input
NO_GRADIENT = not_differentiable(INSTEAD_ATTACK)


def attack_objective(logits: torch.Tensor, y: torch.Tensor, targeted: bool,
                     loss: str = "ce") -> torch.Tensor:
    """The attacker's objective per example, to be maximised: the loss of ``y``
    (untargeted), or minus the loss of the target ``y`` (targeted)."""
    value = LOSSES[loss](logits, y)
    return -value if targeted else value


def grad_wrt_input(objective: torch.Tensor, x_adv: torch.Tensor,
                   retain: bool = False) -> torch.Tensor:
    """``d objective / d x_adv`` (keeping the graph for another pass when ``retain``); one
    ``NoGradientError`` (a ``UserError``) when the model's output has no autograd path to the
    input (a forward that detaches it, thresholds it or runs under ``no_grad``), instead of
    torch's own error."""
    return gradient_of(objective, x_adv, instead=INSTEAD_ATTACK, retain_graph=retain)


def expected_value_and_grad(
    model: nn.Module, x_adv: torch.Tensor, y: torch.Tensor,
    objective: Callable[[torch.Tensor], torch.Tensor], check: bool = True,
    eot_samples: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The per-example ``objective(logits)`` ``(N,)``, its input gradient and the logits, each
    averaged over ``eot_samples`` forward/backward passes of the model.

    Expectation over Transformation (Athalye, Carlini and Wagner 2018, "Obfuscated Gradients
    Give a False Sense of Security"): a randomised model (random resizing, input noise) draws
    new randomness on every pass, so one pass's gradient is one sample of a random variable;
    the attack follows the gradient of the expected objective, estimated by the mean over
    ``eot_samples`` passes. The passes run one after another, not as one enlarged batch:
    a model that draws one transformation per batch gets a new one each pass, and memory
    stays that of one pass. Cost: ``eot_samples`` forward and backward passes per call. With
    ``eot_samples=1`` it is exactly one pass, nothing averaged. The objective is summed over
    the batch, so every example's gradient is its own.
    """
    x_adv = x_adv.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = logits_of(model, x_adv, y, check)
        value = objective(logits)
        grad = grad_wrt_input(value.sum(), x_adv)
        value, logits = value.detach(), logits.detach()
        for _ in range(eot_samples - 1):
            more = logits_of(model, x_adv, y, check=False)
            more_value = objective(more)
            grad = grad + grad_wrt_input(more_value.sum(), x_adv)
            value, logits = value + more_value.detach(), logits + more.detach()
    if eot_samples > 1:
        grad, value, logits = grad / eot_samples, value / eot_samples, logits / eot_samples
    return value, grad, logits


def expected_logits(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    eot_samples: int = 1) -> torch.Tensor:
    """The logits averaged over ``eot_samples`` forward passes, no gradients (the decisions
    of an EOT attack: which restart is worse, which class the model gives); one pass, as is,
    with ``eot_samples=1``."""
    with torch.no_grad():
        logits = logits_of(model, x, y)
        for _ in range(eot_samples - 1):
            logits = logits + logits_of(model, x, y, check=False)
    return logits / eot_samples if eot_samples > 1 else logits


def input_gradient(
    model: nn.Module, x_adv: torch.Tensor, y: torch.Tensor, targeted: bool, check: bool = True,
    loss: str = "ce", eot_samples: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the attacker's objective w.r.t. the input, and the logits.

    The objective is the sum over the batch of the ``loss`` (``"ce"`` cross-entropy or
    ``"margin"``; untargeted: to increase) or of minus the loss of the target (targeted), so
    every example's gradient is its own. With ``eot_samples > 1`` gradient and logits are
    means over that many passes (``expected_value_and_grad``). Raises ``NoGradientError`` (a
    ``UserError``) when the model's output does not depend on its input through autograd.
    """
    _, grad, logits = expected_value_and_grad(
        model, x_adv, y, lambda z: attack_objective(z, y, targeted, loss), check, eot_samples)
    return grad, logits


def fooled(logits: torch.Tensor, y: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Boolean ``(N,)``: the attack's goal is met (wrong class, or the target class)."""
    pred = logits.argmax(dim=1)
    return pred == y if targeted else pred != y


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(p=2, dim=1).view(-1, *([1] * (t.dim() - 1)))


def perturbation_norm(delta: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-example size of ``delta`` in the norm, shape ``(N,)``."""
    flat = delta.flatten(1)
    return flat.abs().amax(dim=1) if norm == "linf" else flat.norm(p=2, dim=1)


def within_budget(x: torch.Tensor, x_adv: torch.Tensor, eps: float | None,
                  norm: str) -> torch.Tensor:
    """A minimal-perturbation attack's answer under a budget: per example ``x_adv`` where
    its perturbation is at most ``eps`` (``None``: no budget, every one), else ``x`` itself
    (the smallest adversarial point found lies outside the ball: nothing inside it was
    found). The tolerance of ``1e-6`` absorbs float rounding of a point on the sphere."""
    if eps is None:
        return x_adv.detach()
    inside = perturbation_norm(x_adv - x, norm) <= eps + 1e-6
    view = (-1,) + (1,) * (x.dim() - 1)
    return torch.where(inside.view(view), project(x_adv, x, eps, norm), x).detach()


def ascent_direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """The steepest-ascent unit step for the norm: sign for Linf, normalised gradient for L2."""
    if norm == "linf":
        return grad.sign()
    return grad / (_flat_norm(grad) + _TINY)


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Project onto the eps-ball around ``x`` in the norm, then onto the pixel box [0, 1]."""
    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        scale = (eps / (_flat_norm(delta) + _TINY)).clamp(max=1.0)
        delta = delta * scale
    return (x + delta).clamp(0.0, 1.0)


def random_start(
    x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None
) -> torch.Tensor:
    """A random point of the eps-ball (uniform in Linf; uniform direction and radius in L2)."""
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        delta = (2 * u - 1) * eps
    else:
        direction = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        radius = torch.rand(
            (x.shape[0],) + (1,) * (x.dim() - 1), generator=generator, device=x.device,
            dtype=x.dtype,
        )
        delta = direction / (_flat_norm(direction) + _TINY) * radius * eps
    return (x + delta).clamp(0.0, 1.0)


def check_start(x_init: object, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor | None:
    """``None``, or a first iterate shaped like ``x`` in ``[0, 1]``, projected into the ball
    (so a start from a smaller budget's result is valid at a larger one)."""
    if x_init is None:
        return None
    x_init = check_images(x_init, "x_init")
    if x_init.shape != x.shape:
        raise UserError(f"x_init must have the shape of x {tuple(x.shape)}, "
                         f"got {tuple(x_init.shape)}")
    return project(x_init.detach().to(x.device, x.dtype), x, eps, norm)
