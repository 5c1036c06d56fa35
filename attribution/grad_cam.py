"""Grad-CAM (Selvaraju, Cogswell, Das, Vedantam, Parikh and Batra 2017, "Grad-CAM: Visual
Explanations from Deep Networks via Gradient-based Localization"): a layer's activation
maps weighted by the spatial mean of the target score's gradient on each."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.transforms import InterpolationMode

from attribution.common import check_inputs, check_layer, output_keeper, target_scores
from attribution.registry import register
from zoo.errors import UserError
from zoo.gradients import INSTEAD_ATTRIBUTION
from zoo.gradients import input_gradient as gradient_of
from zoo.hooks import HookSet
from zoo.layers import token_side
from zoo.params import Layer


@register("grad_cam", paper="Selvaraju et al. 2017", output="layer")
def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    layer: Layer,
    relu: bool = False,
) -> torch.Tensor:
    """``sum_k mean_hw(dS/dA_k) * A_k`` for the activations ``A`` of ``layer``.

    On a convolutional layer, ``(N, K, h, w)``, this matches Captum's
    ``LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=relu)``.
    Captum's default is ``relu_attributions=False``, and so is ours: the signed map. The
    paper's Grad-CAM applies a ReLU: pass ``relu=True``.

    A Vision Transformer layer that outputs tokens ``(N, 1 + h*h, D)`` (a class token, then
    an ``h x h`` grid of patch tokens) is read as a map, as transformer Grad-CAMs do
    (pytorch-grad-cam's ``reshape_transform``): the class token is dropped and the patch
    tokens, with their gradients, are laid out on the patch grid as ``(N, D, h, h)``. Captum
    defines no such layout, so there is no Captum reference for it. Any other output (a flat
    ``(N, K)`` layer, tokens without a square grid) is a ``UserError`` naming the layer and
    its shape, after the forward pass and before the backward one. The last block's output is
    a blank map on a ViT whose head reads the class token (its patch tokens no longer reach
    the score): read the last block's first norm instead (``zoo.layers.cam_layer`` does).

    ``layer`` must run once per forward pass and return one tensor; later in-place ops on it
    (ResNet's ``out += identity``, an in-place ReLU) see a copy, as in Captum.
    A layer the logits do not depend on (an auxiliary head) is a ``NoGradientError`` naming
    it; so is a model whose output has no autograd path at all (``torch.no_grad`` inside
    ``forward``).

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; returns ``(N, 1, h, w)`` for a layer output
          ``(N, K, h, w)`` or ``(N, 1 + h*w, D)``. See ``upsample``.
    """
    model, x, target = check_inputs(model, x, target, "grad_cam")
    module = check_layer(model, layer)
    captured: list[torch.Tensor] = []
    with HookSet() as hooks, torch.enable_grad():
        hooks.forward(module, output_keeper(layer, captured))
        scores = target_scores(model(x.detach().requires_grad_(True)), target)
        if len(captured) != 1:
            raise UserError(f"layer {layer!r} ran {len(captured)} times in one forward pass; "
                             "pick a module that runs once")
        as_map = map_reader(layer, tuple(captured[0].shape))
        grad = gradient_of(scores.sum(), captured[0], instead=INSTEAD_ATTRIBUTION, layer=layer)
    acts, grad = as_map(captured[0].detach()), as_map(grad)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = (weights * acts).sum(dim=1, keepdim=True)
    return cam.clamp(min=0) if relu else cam


def map_reader(layer: str, shape: tuple[int, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
    """How a layer output of ``shape`` is read as a map ``(N, K, h, w)``: as it is, or
    transformer tokens ``(N, 1 + h*h, D)`` without the class token on the patch grid
    ``(N, D, h, h)``. ``UserError`` naming ``layer`` and its shape for any other output."""
    if len(shape) == 4:
        return lambda t: t
    side = token_side(shape)
    if side is None:
        raise UserError(
            f"grad_cam cannot read the output of layer {layer!r}, shaped "
            f"{tuple(shape)}, as a map: it needs a spatial map (N, K, h, w) or transformer "
            "tokens (N, 1 + h*h, D), a class token then a square grid of patches")

    def tokens(t: torch.Tensor) -> torch.Tensor:
        return t[:, 1:].reshape(t.shape[0], side, side, t.shape[2]).permute(0, 3, 1, 2)

    return tokens


def upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A layer-sized map resized (bilinear) to the image size ``(H, W)`` for overlays.

    Shape:
        - cam: ``(N, 1, h, w)``; returns ``(N, 1, H, W)``.
    """
    if not isinstance(cam, torch.Tensor) or cam.dim() != 4:
        raise UserError("cam must be a tensor (N, 1, h, w)")
    if (not isinstance(size, tuple) or len(size) != 2
            or not all(isinstance(s, int) and s >= 1 for s in size)):
        raise UserError(f"size must be a tuple (H, W) of positive ints, got {size!r}")
    return TF.resize(cam.detach(), list(size), interpolation=InterpolationMode.BILINEAR,
                     antialias=False)
