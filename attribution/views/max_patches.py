"""Maximally activating patches (Zeiler and Fergus 2014, "Visualizing and Understanding
Convolutional Networks"; Springenberg, Dosovitskiy, Brox and Riedmiller 2015, "Striving for
Simplicity"): for a channel of a layer, run a dataset through the network, keep the k
strongest activations, and crop from each image the input patch that unit sees, its
receptive field.

The receptive field is measured, not derived from a table of layer types: in a copy of the
model whose nonlinearities are made linear (activations and the channel normalisations of
layer, group and instance norm become identities, max-pools become average pools with the
same window) and whose weights are all positive, the gradient of one
unit with respect to the input is nonzero exactly on the pixels connected to it. The
gradient of the real model is not used: a ReLU that is off or a max-pool that picked another
pixel would cut the support short. This works for any stack of convolutions, pools, batch
norms and residual sums; it rejects layers whose units see the whole image (global pooling).
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from attribution.common import check_layer
from attribution.views._common import _StopForward, capture
from zoo.checks import check_images
from zoo.errors import UserError
from zoo.gradients import input_gradient as gradient_of
from zoo.guard import HOOK_DICTS, check_model, keeps_buffers, warn_if_training
from zoo.hooks import HookSet
from zoo.params import PositiveInt, checked

# Modules that are pointwise (or identities at eval time): the linearised copy drops them.
_POINTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus,
    nn.Dropout, nn.Dropout2d,
)
# Normalisations over the channels (or the whole map) of one position or image: on the
# all-ones probe their output is constant, so the gradient through them is exactly zero.
_CHANNEL_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm,
                  nn.modules.instancenorm._InstanceNorm, nn.RMSNorm)
_MAX_PROBE = 2048  # largest probe side tried before calling a receptive field unbounded


@dataclass(frozen=True)
class ReceptiveField:
    """Where a layer's unit ``(i, j)`` looks in the input: rows
    ``offset[0] + i * stride[0]`` to ``... + size[0] - 1`` (and columns alike); the offset is
    negative when the first units look into the zero padding."""

    size: tuple[int, int]
    stride: tuple[int, int]
    offset: tuple[int, int]

    def box(self, i: int, j: int) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of unit ``(i, j)`` in input pixels."""
        return (self.offset[0] + i * self.stride[0], self.offset[1] + j * self.stride[1],
                *self.size)


@dataclass(frozen=True)
class MaxPatches:
    """The ``k`` strongest units of each chosen channel over a dataset, strongest first.

    Shape:
        - patches: ``(channels, k, C, rh, rw)``, input pixels, ``fill`` outside the image
        - values: ``(channels, k)`` activations; images: ``(channels, k)`` dataset indices
        - positions: ``(channels, k, 2)`` unit ``(row, col)`` in the layer's map
        - inside: ``(channels, k, 4)`` ``(top, left, height, width)`` of the part of each
          patch that lies inside the image, in patch pixels (crop to it to show the patch
          without the ``fill``)
    """

    channels: tuple[int, ...]
    patches: torch.Tensor
    values: torch.Tensor
    images: torch.Tensor
    positions: torch.Tensor
    receptive_field: ReceptiveField
    inside: torch.Tensor


def _linearised(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` that is linear with positive weights, in eval mode."""
    twin = copy.deepcopy(model)
    for m in twin.modules():  # the caller's hooks must not run on (or see) our probe
        for d in HOOK_DICTS:
            getattr(m, d).clear()
    for name, m in list(twin.named_modules()):
        if not name:
            continue
        if isinstance(m, _POINTWISE + _CHANNEL_NORMS) or _is_other_channel_norm(m):
            new: nn.Module | None = nn.Identity()
        elif isinstance(m, nn.MaxPool2d):
            if m.dilation not in (1, (1, 1)):
                raise UserError(f"layer {name!r}: dilated max-pooling is not supported")
            new = nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode)
        elif isinstance(m, nn.AdaptiveMaxPool2d):
            new = nn.AdaptiveAvgPool2d(m.output_size)
        else:
            new = None
        if new is not None:
            parent_name, _, child = name.rpartition(".")
            setattr(twin.get_submodule(parent_name), child, new)
    twin = twin.to(torch.float64).eval()
    with torch.no_grad():
        for m in twin.modules():
            for pname, p in m.named_parameters(recurse=False):
                p.requires_grad_(False)
                if pname == "bias":
                    p.zero_()
                elif isinstance(m, (nn.Conv2d, nn.Linear)) and pname == "weight":
                    p.fill_(1.0 / p[0].numel())  # averaging filters: no overflow, no cancelling
                else:
                    p.fill_(1.0)
            for bname, b in m.named_buffers(recurse=False):
                if bname == "running_mean":
                    b.zero_()
                elif bname == "running_var":
                    b.fill_(1.0)
    return twin


def _is_other_channel_norm(m: nn.Module) -> bool:
    """A normalisation layer of another library (timm's ``LayerNorm2d`` subclasses
    ``nn.LayerNorm``; others may not) that is no batch norm: by its class name."""
    name = type(m).__name__.lower()
    return ("layernorm" in name or "groupnorm" in name or "rmsnorm" in name) and not isinstance(
        m, nn.modules.batchnorm._BatchNorm)


def _support(grad: torch.Tensor) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` of the nonzero pixels of a ``(1, C, H, W)`` gradient."""
    rows = torch.nonzero(grad.abs().sum(dim=(0, 1, 3)) > 0).flatten()
    cols = torch.nonzero(grad.abs().sum(dim=(0, 1, 2)) > 0).flatten()
    if rows.numel() == 0:
        raise UserError("the layer's units do not depend on the input")
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def receptive_field(
    model: nn.Module, layer: str, input_shape: tuple[int, int, int], *,
    largest: int = _MAX_PROBE,
) -> ReceptiveField:
    """The receptive field of the units of ``layer``, measured by input gradients of a
    linearised copy of ``model`` (see the module docstring); ``model`` is not touched.

    The probe image starts at ``input_shape`` and doubles until a central unit's field lies
    inside it with room to spare; the field's size, the layer's stride in input pixels and
    the offset of unit ``(0, 0)`` come from two neighbouring central units. ``largest``: the
    largest probe side tried (a field that does not fit in it is refused, so a small value
    makes a search for a small field cheap). A model that refuses a doubled probe size (a
    Vision Transformer built for one size) is refused with the reason.
    """
    model = check_model(model)
    check_layer(model, layer)
    if (not isinstance(input_shape, tuple) or len(input_shape) != 3
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1
                       for s in input_shape)):
        raise UserError(f"input_shape must be a tuple (C, H, W) of positive ints, "
                         f"got {input_shape!r}")
    if isinstance(largest, bool) or not isinstance(largest, int) or largest < 1:
        raise UserError(f"largest must be a positive int, got {largest!r}")
    return _measure(model, layer, input_shape, largest)[0]


def _measure(
    model: nn.Module, layer: str, input_shape: tuple[int, ...], largest: int = _MAX_PROBE
) -> tuple[ReceptiveField, tuple[int, ...]]:
    """The receptive field, and the layer's output shape ``(K, h, w)`` at ``input_shape``."""
    twin = _linearised(model)
    module = twin.get_submodule(layer)
    device = next((t.device for t in model.parameters()), torch.device("cpu"))
    c, h, w = input_shape
    shape: tuple[int, ...] | None = None
    previous: tuple[int, ...] = ()
    out: list[torch.Tensor] = []

    def keep(mod: nn.Module, args: tuple[object, ...], o: torch.Tensor) -> None:
        out.append(o)
        raise _StopForward

    while True:
        probe = torch.ones(1, c, h, w, dtype=torch.float64, device=device, requires_grad=True)
        out.clear()
        try:
            with HookSet() as hooks, torch.enable_grad(), contextlib.suppress(_StopForward):
                hooks.forward(module, keep)
                twin(probe)
        except Exception as err:
            if (h, w) == tuple(input_shape[1:]):
                raise  # the caller's own size: their mistake, as it is
            # a doubled probe the model refuses (a Vision Transformer built for one size)
            raise UserError(
                f"layer {layer!r}: measuring its units' field needs a {h}x{w} probe, and the "
                f"model does not run at that size ({type(err).__name__}: {err})") from err
        if not out:
            raise UserError(f"layer {layer!r} did not run during the forward pass")
        act = out[0]
        if not isinstance(act, torch.Tensor) or act.dim() != 4:
            got = tuple(act.shape) if isinstance(act, torch.Tensor) else type(act).__name__
            raise UserError(f"layer {layer!r} must output feature maps (N, K, h, w), got {got}")
        if shape is None:
            shape = tuple(act.shape[1:])
        oh, ow = act.shape[2:]
        ci, cj = (oh - 1) // 2, (ow - 1) // 2  # the central pair is (ci, cj), (ci+1, cj+1)
        if ci + 1 < oh and cj + 1 < ow:
            boxes = []
            for i, j in ((ci, cj), (ci + 1, cj + 1)):
                grad = gradient_of(act[0, :, i, j].sum(), probe, retain_graph=True,
                                   instead=f"layer {layer!r}'s receptive field is measured by "
                                   "its gradient and cannot be")
                boxes.append(_support(grad))
            top, left, bottom, right = boxes[0]
            if top > 0 and left > 0 and boxes[1][2] < h - 1 and boxes[1][3] < w - 1:
                stride = (boxes[1][0] - top, boxes[1][1] - left)
                field = ReceptiveField(size=(bottom - top + 1, right - left + 1), stride=stride,
                                       offset=(top - ci * stride[0], left - cj * stride[1]))
                return field, shape
        # a map that does not grow with the image is globally pooled
        if max(h, w) * 2 > largest or tuple(act.shape[2:]) == previous:
            raise UserError(f"layer {layer!r}: its units see the whole image (global "
                             f"pooling?) or more than {largest} pixels; no patches to crop")
        previous = tuple(act.shape[2:])
        h, w = h * 2, w * 2


@keeps_buffers
@checked
def max_patches(
    model: nn.Module,
    x: torch.Tensor,
    layer: str,
    channels: int | list[int] | tuple[int, ...],
    *,
    k: PositiveInt = 9,
    distinct_images: bool = True,
    fill: float = 0.0,
    batch_size: PositiveInt = 128,
) -> MaxPatches:
    """The ``k`` input patches that most excite each of ``channels`` of ``layer`` over the
    dataset ``x``, strongest first.

    ``distinct_images``: take at most one unit (its strongest) per image and channel, as the
    papers' figures do; otherwise the ``k`` strongest units anywhere. Ties go to the earlier
    image, then the earlier position, so the result does not depend on ``batch_size``.
    Patches are the units' receptive fields (``receptive_field``); the parts of a field that
    hang over the image border are ``fill``, and ``inside`` says where the image part is.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; see ``MaxPatches`` for the result.
    """
    model = check_model(model)
    x = check_images(x)
    check_layer(model, layer)
    if isinstance(channels, int) and not isinstance(channels, bool):
        channels = [channels]
    if (not isinstance(channels, (list, tuple)) or not channels
            or not all(isinstance(ch, int) and not isinstance(ch, bool) for ch in channels)
            or len(set(channels)) != len(channels)):
        raise UserError(f"channels must be an int or a non-empty list of distinct ints, "
                         f"got {channels!r}")
    n = x.shape[0]
    if distinct_images and k > n:
        raise UserError(f"k={k} is more than the {n} images in x (distinct_images=True)")
    warn_if_training(model, "max_patches")
    # the probe runs on a private copy, so the checks below still come before any real work
    field, (num_channels, map_h, map_w) = _measure(model, layer, tuple(x.shape[1:]))
    if min(channels) < 0 or max(channels) >= num_channels:
        raise UserError(f"channels {list(channels)} out of range for layer {layer!r} with "
                         f"{num_channels} channels")
    if not distinct_images and k > n * map_h * map_w:
        raise UserError(f"k={k} is more than the {n * map_h * map_w} units of the channel")
    best_v, best_i, best_p = _strongest(model, x, layer, channels, k=k,
                                        distinct_images=distinct_images, batch_size=batch_size)
    rh, rw = field.size
    padded = F.pad(x, (rw, rw, rh, rh), value=float(fill))  # every field fits inside
    positions = torch.stack([best_p // map_w, best_p % map_w], dim=2)
    patches = x.new_empty(len(channels), best_v.shape[1], x.shape[1], rh, rw)
    inside = torch.zeros(len(channels), best_v.shape[1], 4, dtype=torch.long)
    height, width = x.shape[-2:]
    for c in range(len(channels)):
        for r in range(best_v.shape[1]):
            top, left, _, _ = field.box(int(positions[c, r, 0]), int(positions[c, r, 1]))
            img = padded[int(best_i[c, r])]
            patches[c, r] = img[:, top + rh:top + 2 * rh, left + rw:left + 2 * rw]
            first_row, first_col = max(0, -top), max(0, -left)
            inside[c, r] = torch.tensor([
                first_row, first_col,
                max(0, min(rh, height - top) - first_row),
                max(0, min(rw, width - left) - first_col)])
    return MaxPatches(tuple(channels), patches, best_v, best_i, positions, field, inside)


def _strongest(
    model: nn.Module, x: torch.Tensor, layer: str, channels: list[int] | tuple[int, ...], *,
    k: int, distinct_images: bool, batch_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(values, images, positions)`` of the ``k`` strongest units of each channel, each
    ``(channels, k)``, kept over the batches as they come (candidates stay in image, position
    order, so a stable sort breaks ties by the earlier image, then the earlier position)."""
    module = check_layer(model, layer)
    chans = torch.tensor(channels, device=x.device)
    best_v = best_i = best_p = None
    for first in range(0, x.shape[0], batch_size):
        acts = capture(model, module, x[first:first + batch_size], layer)  # (B, K, h, w)
        a = acts[:, chans].flatten(2).transpose(0, 1)  # (channels, B, h*w)
        b = a.shape[1]
        image = torch.arange(first, first + b, device=x.device).view(1, b, 1).expand_as(a)
        pos = torch.arange(a.shape[2], device=x.device).view(1, 1, -1).expand_as(a)
        if distinct_images:
            v = a.amax(dim=2)
            # the earliest position of the maximum, on every device (max's index may not be)
            p = torch.where(a == v.unsqueeze(2), pos, a.shape[2]).amin(dim=2)
            cand_v, cand_i, cand_p = v, image[:, :, 0], p
        else:
            cand_v, cand_i, cand_p = a.flatten(1), image.flatten(1), pos.flatten(1)
        if best_v is not None:
            cand_v = torch.cat([best_v, cand_v], 1)
            cand_i = torch.cat([best_i, cand_i], 1)
            cand_p = torch.cat([best_p, cand_p], 1)
        order = torch.sort(cand_v, dim=1, descending=True, stable=True).indices[:, :k]
        best_v, best_i, best_p = (t.gather(1, order) for t in (cand_v, cand_i, cand_p))
    assert best_v is not None and best_i is not None and best_p is not None
    return best_v, best_i, best_p
