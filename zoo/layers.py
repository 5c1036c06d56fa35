"""Where on a model the audit looks: its stages of convolutional features (shallow to deep),
the layer Grad-CAM and the patch views use by default, the first activation, the layers
style transfer matches, and whether the model runs at a given image size. The methods take
layers by name; these are the harness's and the benchmarks' default choices."""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from zoo.errors import UserError
from zoo.guard import buffers_kept
from zoo.hooks import HookSet, get_layer

#: why a model's layers cannot be hooked: the reason the jobs show for the parts they leave out
SCRIPTED = "a TorchScript model's layers cannot be hooked"


def is_scripted(model: nn.Module) -> bool:
    """Whether ``model`` or any submodule is TorchScript (``torch.jit.trace`` or ``script``):
    forward hooks cannot be registered on it, so no layer of it can be read."""
    return any(isinstance(m, torch.jit.ScriptModule) for m in model.modules())


def feature_layers(model: nn.Module) -> list[str]:
    """The model's stages of convolutional features, shallow to deep, by qualified name.

    ResNets: the stem's ReLU, then ``layer1`` to ``layer4`` (their blocks reuse one ReLU
    module, so a block's ReLU is no single stage). Other networks: each ``nn.ReLU`` that
    follows a convolution (through an optional batch norm), else the convolutions themselves;
    for a model that carries its ``input_shape`` (a ``zoo.Classifier``), only those whose
    output is a spatial map (``is_spatial_map``: not a squeeze-and-excitation block's 1 x 1
    convolutions). A TorchScript model (or one with a TorchScript part) has none: its layers
    cannot be hooked.
    """
    if is_scripted(model):
        return []
    modules = list(model.named_modules())
    names = [name for name, _ in modules]
    for name in names:
        if name == "layer4" or name.endswith(".layer4"):
            prefix = name[: -len("layer4")]
            stages = [f"{prefix}relu"] + [f"{prefix}layer{i}" for i in range(1, 5)]
            if all(s in names for s in stages):
                return stages
    relus, last = [], None
    for name, m in modules:
        if isinstance(m, nn.Conv2d):
            last = m
        elif isinstance(m, nn.ReLU) and last is not None:
            relus.append(name)
            last = None
        elif not isinstance(m, (nn.BatchNorm2d, nn.Sequential)) and list(m.children()) == []:
            last = None
    return _spatial(model, relus or [name for name, m in modules if isinstance(m, nn.Conv2d)])


def _spatial(model: nn.Module, layers: list[str]) -> list[str]:
    """The ``layers`` whose output is a spatial map in one probe pass at the model's
    ``input_shape``; all of them when the model carries none or the pass fails, or when
    none is (the list is a preference, not a refusal)."""
    if not layers or getattr(model, "input_shape", None) is None:
        return layers
    try:
        shapes = output_shapes(model, layers)
    except Exception:  # a model the probe cannot run keeps every candidate
        return layers
    maps = [name for name in layers if name in shapes and is_spatial_map((1, *shapes[name]))]
    return maps or layers


def layers_for(model: nn.Module) -> list[str]:
    """``feature_layers``, refused (with the reason) when the model has none."""
    layers = feature_layers(model)
    if not layers:
        if is_scripted(model):
            raise UserError(SCRIPTED)
        raise UserError("the generative methods need convolutional feature layers; "
                         "the model has none")
    return layers


def middle_layer(model: nn.Module) -> str:
    """The feature stage half way down: where DeepDream and channel views aim by default."""
    layers = layers_for(model)
    return layers[len(layers) // 2]


def style_layers(model: nn.Module) -> tuple[str, list[str]]:
    """Gatys et al.'s choice in miniature: style from up to five stages spread from the
    first to two thirds of the depth, content from a stage two thirds deep."""
    layers = layers_for(model)
    content = layers[(2 * len(layers)) // 3]
    upto = layers[: layers.index(content) + 1]
    picks = sorted({round(i * (len(upto) - 1) / 4) for i in range(5)}) if len(upto) > 5 else None
    return content, [upto[i] for i in picks] if picks else upto


def conv_activations(model: nn.Module) -> list[str]:
    """Each convolution's activation, shallow to deep: the ReLU module right after an
    ``nn.Conv2d``, else the conv itself. The candidates for the patch views' layer."""
    modules = list(model.named_modules())
    found = []
    for i, (name, m) in enumerate(modules):
        if isinstance(m, nn.Conv2d):
            after = modules[i + 1] if i + 1 < len(modules) else None
            found.append(after[0] if after and isinstance(after[1], nn.ReLU) else name)
    return found


def last_conv(model: nn.Module) -> str:
    """The last convolution's activation (the ReLU module right after the last ``nn.Conv2d``,
    as in Selvaraju et al.'s VGG set-up), else the conv itself: where the representation
    views read maximally activating patches. Grad-CAM's default is ``cam_layer``."""
    convs = conv_activations(model)
    if not convs:
        raise UserError("the model has no convolutional layer")
    return convs[-1]


def token_side(shape: Sequence[int]) -> int | None:
    """``h`` when ``shape`` is a Vision Transformer's tokens ``(N, 1 + h*h, D)`` (a class
    token, then an ``h x h`` grid of patch tokens, ``h > 1``); ``None`` for any other shape."""
    if len(shape) != 3 or shape[1] < 5:
        return None
    side = math.isqrt(shape[1] - 1)
    return side if side > 1 and side * side == shape[1] - 1 else None


def is_spatial_map(shape: Sequence[int]) -> bool:
    """Whether ``shape`` is a spatial map ``(N, K, h, w)`` with ``h, w > 1``."""
    return len(shape) == 4 and shape[2] > 1 and shape[3] > 1


# layers that only pool, drop or pass their input on: a map they output is read where it was
# made (mnist_cnn's map is the ReLU net.4, not the max-pool net.5 after it)
_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d, nn.LPPool2d,
          nn.FractionalMaxPool2d)
_PASS_ON = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout)


@dataclass(eq=False)
class _Seen:
    """One module's output in the probe pass."""

    name: str
    module: nn.Module
    output: torch.Tensor | None = None
    calls: int = 0
    after_parameters: bool = False  # some module with parameters finished before it
    reaches: bool = False  # the class scores depend on it (patch tokens: on them)


def _probe_input(model: nn.Module, input_shape: Sequence[int] | None) -> torch.Tensor:
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise UserError("finding a layer by a probe pass needs the model's input_shape "
                         "(C, H, W): a zoo.Classifier carries it")
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    device = tensor.device if tensor is not None else torch.device("cpu")
    dtype = tensor.dtype if tensor is not None and tensor.is_floating_point() else torch.float32
    # two images: a batch norm in training mode needs more than one value per channel
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0))
    return x.to(device=device, dtype=dtype)


def _probe(model: nn.Module, x: torch.Tensor) -> tuple[list[_Seen], bool]:
    """One forward and one backward pass of the probe image ``x``, a forward hook on every
    module: the candidate layers (see ``cam_layer``) in the order they finished, each with
    whether the class scores depend on it, and whether some module was TorchScript (whose
    layers hooks cannot see)."""
    seen: dict[int, _Seen] = {}
    finished: list[_Seen] = []
    state = {"parameters": False}
    scripted = False

    def keep(entry: _Seen) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], out: Any) -> None:
            entry.calls += 1
            entry.output = out if isinstance(out, torch.Tensor) else None
            entry.after_parameters = state["parameters"]
            if any(True for _ in module.parameters(recurse=False)):
                state["parameters"] = True
            if entry in finished:
                finished.remove(entry)
            finished.append(entry)
        return hook

    # the buffers are put back only after the backward pass, which reads batch norm's
    with HookSet() as hooks, buffers_kept(model), torch.enable_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.jit.ScriptModule):
                scripted = True
            elif name and id(module) not in seen:
                seen[id(module)] = _Seen(name, module)
                hooks.forward(module, keep(seen[id(module)]))
        logits = model(x.requires_grad_(True))
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
            raise UserError(f"the model must return logits (N, classes), got "
                             f"{type(logits).__name__}")
        pooled = {id(s.output) for s in finished
                  if s.output is not None and isinstance(s.module, _POOLS)}
        # the width of the token stream: the last token output's (not a block's inner qkv)
        width = next((s.output.shape[2] for s in reversed(finished) if s.output is not None
                      and token_side(s.output.shape) is not None), None)
        candidates = [
            s for s in finished
            if s.calls == 1 and s.output is not None and s.output.requires_grad
            and (s.after_parameters or any(True for _ in s.module.parameters()))
            and not isinstance(s.module, _POOLS + _PASS_ON) and id(s.output) not in pooled
            and (is_spatial_map(s.output.shape) or (token_side(s.output.shape) is not None
                                                    and s.output.shape[2] == width))
        ]
        if candidates:
            # a fixed random mix of the logits: their plain sum is constant under a softmax
            mix = torch.rand(logits.shape[1], generator=torch.Generator().manual_seed(1))
            score = (logits * mix.to(logits)).sum()
            grads = torch.autograd.grad(score, [s.output for s in candidates],
                                        allow_unused=True)
            for entry, grad in zip(candidates, grads, strict=True):
                # the patch tokens of the last block's output no longer reach the class token
                if grad is not None and token_side(entry.output.shape) is not None:
                    grad = grad[:, 1:]
                entry.reaches = grad is not None and bool(grad.any())
    return candidates, scripted


def cam_layer(model: nn.Module, input_shape: Sequence[int] | None = None) -> str:
    """Grad-CAM's default layer, found by one probe pass (forward and backward) of a random
    image of the model's ``input_shape``: the last module whose output is a spatial map
    ``(N, K, h, w)`` with ``h, w > 1``, or Vision Transformer tokens ``(N, 1 + h*h, D)``, that
    the class scores depend on.

    Only modules that run once count, and only after the first module with parameters (not
    the input normalisation). A pooling or pass-on layer (dropout, identity) is skipped: the
    map is read where it was made, so mnist_cnn's is the ReLU ``net.4`` and not the max-pool
    after it, and VGG's the last ReLU and not its pools. A container that returns its last
    child's map is named itself (ResNet's ``layer4``, EfficientNet's ``features``). On a
    transformer only the class token reaches the head from the last block's output, so the
    gradient on its patch tokens is 0 (a blank map): the last tokens whose patches do reach
    the score are the last block's first norm (torchvision's ``ln_1``, timm's ``norm1``),
    the layer pytorch-grad-cam recommends. ``ValueError`` saying why when there is none.
    """
    candidates, scripted = _probe(model, _probe_input(model, input_shape))
    for entry in reversed(candidates):
        if entry.reaches:
            return entry.name
    if candidates:
        raise UserError(
            "the class scores depend on none of the layers that output a spatial map or "
            "transformer tokens (zero gradient at a random image: an untrained head "
            "initialised to zero, as torchvision's VisionTransformer's is?); name one with "
            "layer = \"...\"")
    hidden = (" (parts of it are TorchScript, whose layers hooks cannot see)" if scripted
              else "")
    raise UserError("no layer of the model outputs a spatial map (N, K, h, w) with h, w > 1 "
                     f"or transformer tokens (N, 1 + h*h, D){hidden}; name one with "
                     "layer = \"...\"")


def output_shapes(model: nn.Module, layers: Sequence[str],
                  input_shape: Sequence[int] | None = None) -> dict[str, tuple[int, ...]]:
    """The shape of one example's output (without the batch dimension) of each of ``layers``
    that outputs a tensor, by one probe pass; a layer called twice: its last output."""
    shapes: dict[str, tuple[int, ...]] = {}

    def keep(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], out: Any) -> None:
            if isinstance(out, torch.Tensor):
                shapes[name] = tuple(out.shape[1:])
        return hook

    modules = {name: get_layer(model, name) for name in layers}
    x = _probe_input(model, input_shape)
    with HookSet() as hooks, buffers_kept(model), torch.no_grad():
        for name, module in modules.items():
            hooks.forward(module, keep(name))
        model(x)
    return shapes


def output_shape(model: nn.Module, layer: str,
                 input_shape: Sequence[int] | None = None) -> tuple[int, ...]:
    """The shape of one example's output of ``layer`` (without the batch dimension), by one
    probe pass."""
    shapes = output_shapes(model, [layer], input_shape)
    if layer not in shapes:
        raise UserError(f"layer {layer!r} did not output a tensor in a forward pass")
    return shapes[layer]


def first_activation(model: nn.Module) -> str:
    """The ReLU after the first convolution: the lecture's first-layer activations."""
    modules = list(model.named_modules())
    for i, (_, m) in enumerate(modules):
        if isinstance(m, nn.Conv2d):
            after = modules[i + 1] if i + 1 < len(modules) else None
            return after[0] if after and isinstance(after[1], nn.ReLU) else modules[i][0]
    raise UserError("the representation views need a convolutional layer")


# model -> {(channels, side): whether it runs}; weak, so a model's answers go with it
_ACCEPTS: weakref.WeakKeyDictionary[nn.Module, dict[tuple[int, int], bool]] = (
    weakref.WeakKeyDictionary())


def accepts_size(model: nn.Module, channels: int, side: int) -> bool:
    """Whether the model runs on ``side x side`` images (fully connected heads do not, nor
    does a Vision Transformer built for one size, which asserts it). Any exception of the
    probe pass counts as no; each model is probed once per ``(channels, side)``."""
    known = _ACCEPTS.setdefault(model, {})
    if (channels, side) not in known:
        tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
        device = tensor.device if tensor is not None else torch.device("cpu")
        dtype = (tensor.dtype if tensor is not None and tensor.is_floating_point()
                 else torch.float32)
        try:
            with buffers_kept(model), torch.no_grad():
                model(torch.zeros(1, channels, side, side, device=device, dtype=dtype))
        except Exception:  # a refusal of the size, whatever the model raises for it
            known[(channels, side)] = False
        else:
            known[(channels, side)] = True
    return known[(channels, side)]
