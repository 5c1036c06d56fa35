"""Gradients with respect to a method's input, and the one error when there are none.

Every white-box method (gradient attacks, gradient attributions, the generative
optimisations) asks autograd for ``d output / d input``. On a model whose output has no
autograd path to its input (a ``torch.no_grad`` block, a ``.detach()`` or an integer step such
as a thermometer encoding inside ``forward``) torch answers with its own text ("element 0 of
tensors does not require grad", "... appears to not have been used in the graph"), which names
neither the model nor what to do. ``input_gradient`` asks autograd the same question and
raises ``NoGradientError``, a ``UserError`` naming the cause and what can be used instead.

A zero gradient (``torch.round``, a saturated softmax) is a gradient: it is returned as it
is. Only a missing graph is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from zoo.errors import UserError

#: the cause, the same for every family of methods
NOT_DIFFERENTIABLE = (
    "the model's output is not differentiable with respect to its input (no autograd path: "
    "e.g. torch.no_grad, .detach() or an integer step inside forward)"
)
#: what each family of methods can use instead, appended to the cause
INSTEAD_ATTACK = "white-box attacks cannot run on it: use a black-box attack such as square"
INSTEAD_ATTRIBUTION = "gradient attributions cannot run on it: use occlusion"
INSTEAD_GENERATIVE = ("images cannot be optimised against it: the generative methods need "
                      "the model's gradient")


def not_differentiable(instead: str = "") -> str:
    """The one-line message: the cause, then what to use instead when ``instead`` is given."""
    return f"{NOT_DIFFERENTIABLE}; {instead}" if instead else NOT_DIFFERENTIABLE


def not_on_path(layer: str) -> str:
    """The message for a layer whose output the model's output does not depend on."""
    return (f"layer {layer!r} does not feed the model's output: pick a layer on the path to "
            "the logits")


class NoGradientError(UserError):
    """The model's output has no autograd path to the tensor a method differentiates with
    respect to (its input, or a layer's output): no gradient method can run there."""

    def __init__(self, message: str = NOT_DIFFERENTIABLE) -> None:
        super().__init__(message)


def input_gradient(
    output: torch.Tensor,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    *,
    instead: str = "",
    layer: str | None = None,
    grad_output: torch.Tensor | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """``torch.autograd.grad(output, inputs, ...)``; ``NoGradientError`` when ``output`` has no
    autograd path to an input, instead of torch's ``RuntimeError``.

    ``inputs`` is one tensor (one gradient is returned) or a sequence (a tuple). The message is
    ``not_differentiable(instead)``, or, with ``layer`` (the inputs are that layer's output,
    as in Grad-CAM), ``not_on_path(layer)`` when the output does depend on something with a
    graph but not on the layer. Nothing is computed twice: the check reads the graph autograd
    builds anyway.
    """
    single = isinstance(inputs, torch.Tensor)
    wrt = (inputs,) if single else tuple(inputs)
    cause = not_differentiable(instead)
    if not output.requires_grad:
        # no graph at all: a no_grad forward, or everything upstream detached
        raise NoGradientError(cause)
    grads = torch.autograd.grad(output, wrt, grad_outputs=grad_output, retain_graph=retain_graph,
                                create_graph=create_graph, allow_unused=True)
    if any(g is None for g in grads):
        raise NoGradientError(not_on_path(layer) if layer is not None else cause)
    return grads[0] if single else grads
