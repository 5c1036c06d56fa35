"""Overriding the backward pass of every ``nn.ReLU`` module, shared by guided
backpropagation and the deconvnet, plus the intermediate-neuron objective they both offer.

Each ReLU keeps its forward value, ``max(x, 0)``, computed by the module itself, but that
output is tied back to the saved pre-activation through an autograd Function whose backward
is the chosen rule:

- ``"guided"`` (Springenberg et al. 2015): ``grad_in = max(grad_out, 0) * [x > 0]``
- ``"deconvnet"`` (Zeiler and Fergus 2014): ``grad_in = max(grad_out, 0)``

Why forward hooks and not backward hooks: PyTorch refuses full backward hooks on a module
whose output is an in-place view, which ``nn.ReLU(inplace=True)`` (torchvision ResNet)
produces. A forward pre-hook saves the pre-activation and hands the module a detached copy
to work on (so an in-place ReLU cannot overwrite it); the forward hook replaces the module's
output by the rule's Function of the saved input and that output. The model is never changed,
a ReLU module called twice (ResNet's BasicBlock) is handled call by call, and the hooks are
removed in ``finally``.

Functional ReLUs (``F.relu`` or ``torch.relu`` inside ``forward``) are not modules and cannot
be overridden: their backward stays the plain ReLU gradient. A model with other activation
modules besides its ReLUs (MobileNetV3's ``nn.Hardswish``), or with none, is refused
(``relu_refusal``): the rules are defined for ReLU networks, and overriding some of its
nonlinearities would give a map that is neither the method nor the gradient.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from attribution.common import check_inputs, check_layer, output_keeper, target_scores
from zoo.checks import check_images
from zoo.errors import UserError
from zoo.gradients import INSTEAD_ATTRIBUTION
from zoo.gradients import input_gradient as gradient_of
from zoo.guard import check_model, warn_if_training
from zoo.hooks import HookSet, find_modules


class _GuidedReLU(torch.autograd.Function):
    """Forward: the module's own output ``y = relu(x)``, passed through as a view (no second
    ReLU). Backward to ``x``: ``max(grad_out, 0)`` where ``y > 0`` (``x > 0``), else 0."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(y)
        return y.view_as(y)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (y,) = ctx.saved_tensors
        # one fused masking pass, as the plain ReLU's own backward does
        return torch.ops.aten.threshold_backward(grad.clamp(min=0), y, 0), None


class _DeconvReLU(torch.autograd.Function):
    """Forward: the module's output as a view. Backward to ``x``: ``max(grad_out, 0)``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y.view_as(y)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad.clamp(min=0), None


_FUNCTIONS = {"guided": _GuidedReLU, "deconvnet": _DeconvReLU}


# modules of torch.nn's (and timm's) activation files that are not elementwise nonlinearities
_NOT_ELEMENTWISE = {"Softmax", "Softmin", "LogSoftmax", "Softmax2d", "MultiheadAttention"}


def _type_name(module: nn.Module) -> str:
    kind = type(module)
    return f"nn.{kind.__name__}" if kind.__module__.startswith("torch.nn.") else (
        f"{kind.__module__}.{kind.__qualname__}")


def other_activations(model: nn.Module) -> Counter[str]:
    """The model's elementwise activation modules that are not ``nn.ReLU``, counted by type:
    every class of torch.nn's activation module (``nn.GELU``, ``nn.SiLU``, ``nn.Hardswish``,
    ``nn.Sigmoid``, ``nn.ReLU6``...) and of timm's activation modules, but the softmax family
    and attention. Functional calls (``F.gelu``) are not modules and cannot be seen."""
    counts: Counter[str] = Counter()
    for module in model.modules():
        kind = type(module)
        home = kind.__module__.rsplit(".", 1)[-1]
        if (not isinstance(module, nn.ReLU) and home.startswith("activation")
                and kind.__name__ not in _NOT_ELEMENTWISE):
            counts[_type_name(module)] += 1
    return counts


def _listed(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items())


def relu_refusal(model: nn.Module) -> str | None:
    """Why a ReLU rule (guided backprop, the deconvnet) does not apply to ``model``, or
    ``None`` when it does: they are defined for ReLU networks and override ``nn.ReLU``
    modules, so a model needs at least one, and no other elementwise activation module
    (overriding only its ReLUs would give a mixture that is neither the method nor the
    gradient). Functional calls cannot be seen: a ``F.relu`` keeps its plain gradient, a
    ``F.gelu`` goes unnoticed."""
    if any(isinstance(m, torch.jit.ScriptModule) for m in model.modules()):
        return ("the model is TorchScript: its modules cannot be hooked, so no ReLU can be "
                "overridden")
    relus = sum(isinstance(m, nn.ReLU) for m in model.modules())
    others = other_activations(model)
    if not relus:
        if others:
            return f"the model has no nn.ReLU module; its activations are {_listed(others)}"
        return ("the model has no nn.ReLU module (nor any other activation module: any "
                "nonlinearity it has is a functional call, e.g. F.relu, which cannot be "
                "overridden)")
    if others:
        return (f"the model has {_listed(others)} besides {relus} nn.ReLU: overriding only "
                "the ReLUs gives a map that is neither this method nor the gradient")
    return None


def check_relus(model: nn.Module, method: str) -> list[nn.Module]:
    """The model's ``nn.ReLU`` modules; a ``UserError`` saying why when the model is no
    ReLU network (``relu_refusal``)."""
    reason = relu_refusal(model)
    if reason is not None:
        raise UserError(f"{method} is defined for ReLU networks and refuses this model: "
                         f"{reason}")
    return [m for _, m in find_modules(model, nn.ReLU)]


@contextmanager
def relu_rule(relus: list[nn.Module], rule: str) -> Iterator[None]:
    """Within the block, every listed ReLU module backpropagates with ``rule``."""
    function = _FUNCTIONS[rule]
    saved: dict[int, torch.Tensor] = {}

    def keep_input(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        saved[id(module)] = args[0]
        # the module's own result is discarded; an in-place ReLU must not clobber the input
        work = args[0].detach()
        return (work.clone() if getattr(module, "inplace", False) else work, *args[1:])

    def replace_output(module: nn.Module, args: tuple[Any, ...], output: Any) -> torch.Tensor:
        # the module's result carries the values; the Function ties them to the saved input
        return function.apply(saved.pop(id(module)), output)

    with HookSet() as hooks:
        for module in relus:
            hooks.forward_pre(module, keep_input)
            hooks.forward(module, replace_output)
        try:
            yield
        finally:
            saved.clear()


def check_neuron(neuron: object) -> int | tuple[int, ...]:
    """An int (a channel, summed) or a tuple of ints (one unit of one example's output)."""
    if isinstance(neuron, int) and not isinstance(neuron, bool):
        if neuron < 0:
            raise UserError(f"neuron must be >= 0, got {neuron}")
        return neuron
    if (isinstance(neuron, tuple) and neuron
            and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in neuron)):
        return neuron
    raise UserError(f"neuron must be a channel index or a tuple of indices >= 0, got {neuron!r}")


def neuron_score(out: torch.Tensor, neuron: int | tuple[int, ...]) -> torch.Tensor:
    """Each example's chosen unit of a layer output ``(N, ...)``: shape ``(N,)``."""
    if isinstance(neuron, int):
        if out.dim() < 2 or neuron >= out.shape[1]:
            raise UserError(f"neuron {neuron} is not a channel of the layer output "
                             f"{tuple(out.shape)}")
        return out[:, neuron].reshape(out.shape[0], -1).sum(dim=1)
    inner = tuple(out.shape[1:])
    if len(neuron) != len(inner) or any(i >= s for i, s in zip(neuron, inner, strict=True)):
        raise UserError(f"neuron {neuron} does not index one unit of the layer output "
                         f"(N, {', '.join(map(str, inner))})")
    return out[(slice(None), *neuron)]


def relu_rule_gradient(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor | None,
    *,
    layer: str | None,
    neuron: int | tuple[int, ...] | None,
    rule: str,
    method: str,
) -> torch.Tensor:
    """Input gradient, with every ReLU module's backward replaced by ``rule``, of either the
    target logits (``layer=None``) or one chosen unit of ``layer`` per example.

    Layer mode is the lecture's "pick a neuron, set its gradient to 1, backpropagate":
    ``neuron`` is a tuple indexing one unit of an example's layer output (e.g. ``(c, h, w)``)
    or an int, a channel whose sum is the objective. ``target`` must then be ``None``.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; returns ``(N, C, H, W)``.
    """
    if layer is None:
        if neuron is not None:
            raise UserError("neuron needs a layer: pass layer=NAME with neuron=...")
        model, x, target = check_inputs(model, x, target, method)
        module = None
    else:
        model = check_model(model)
        x = check_images(x)
        module = check_layer(model, layer)
        if neuron is None:
            raise UserError(f"layer={layer!r} needs a neuron (a channel or an index tuple)")
        neuron = check_neuron(neuron)
        if target is not None:
            raise UserError("target must be None when a layer neuron is the objective")
        warn_if_training(model, method)
    relus = check_relus(model, method)

    x = x.detach().requires_grad_(True)
    captured: list[torch.Tensor] = []

    with relu_rule(relus, rule), HookSet() as hooks, torch.enable_grad():
        # registered after the rule's hooks, so a ReLU layer is captured after its override
        if module is not None:
            hooks.forward(module, output_keeper(layer, captured))
        logits = model(x)
        if module is None:
            scores = target_scores(logits, target)
        else:
            if len(captured) != 1:
                raise UserError(f"layer {layer!r} ran {len(captured)} times in one forward "
                                 "pass; pick a module that runs once")
            scores = neuron_score(captured[0], neuron)
        grad = gradient_of(scores.sum(), x, instead=INSTEAD_ATTRIBUTION)
    return grad.detach()
