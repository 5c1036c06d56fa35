"""Grad-CAM (Selvaraju, Cogswell, Das, Vedantam, Parikh and Batra 2017, "Grad-CAM: Visual
Explanations from Deep Networks via Gradient-based Localization"): a layer's activation
maps weighted by the spatial mean of the target score's gradient on each."""

from __future__ import annotations

import torch
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.transforms import InterpolationMode

from attribution.common import check_inputs, check_layer, output_keeper, target_scores
from attribution.registry import register
from zoo.hooks import HookSet
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

    Matches Captum's ``LayerGradCam(model, layer).attribute(x, target=target,
    relu_attributions=relu)``. Captum's default is ``relu_attributions=False``, and so is
    ours: the signed map. The paper's Grad-CAM applies a ReLU: pass ``relu=True``.
    ``layer`` must run once per forward pass and return one tensor; later in-place ops on it
    (ResNet's ``out += identity``, an in-place ReLU) see a copy, as in Captum.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; returns ``(N, 1, h, w)`` for a layer output
          ``(N, K, h, w)`` (``(N, 1)`` for a flat ``(N, K)`` layer). See ``upsample``.
    """
    model, x, target = check_inputs(model, x, target, "grad_cam")
    module = check_layer(model, layer)
    captured: list[torch.Tensor] = []
    with HookSet() as hooks, torch.enable_grad():
        hooks.forward(module, output_keeper(layer, captured))
        scores = target_scores(model(x.detach().requires_grad_(True)), target)
        if len(captured) != 1:
            raise ValueError(f"layer {layer!r} ran {len(captured)} times in one forward pass; "
                             "pick a module that runs once")
        (grad,) = torch.autograd.grad(scores.sum(), captured[0])
    acts = captured[0].detach()
    weights = grad.mean(dim=tuple(range(2, grad.dim())), keepdim=True) if grad.dim() > 2 else grad
    cam = (weights * acts).sum(dim=1, keepdim=True)
    return cam.clamp(min=0) if relu else cam


def upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A layer-sized map resized (bilinear) to the image size ``(H, W)`` for overlays.

    Shape:
        - cam: ``(N, 1, h, w)``; returns ``(N, 1, H, W)``.
    """
    if not isinstance(cam, torch.Tensor) or cam.dim() != 4:
        raise ValueError("cam must be a tensor (N, 1, h, w)")
    if (not isinstance(size, tuple) or len(size) != 2
            or not all(isinstance(s, int) and s >= 1 for s in size)):
        raise ValueError(f"size must be a tuple (H, W) of positive ints, got {size!r}")
    return TF.resize(cam.detach(), list(size), interpolation=InterpolationMode.BILINEAR,
                     antialias=False)
