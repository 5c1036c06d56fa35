"""Where on a model the audit looks: its stages of convolutional features (shallow to deep),
the layer Grad-CAM and the patch views use by default, the first activation, the layers
style transfer matches, and whether the model runs at a given image size. The methods take
layers by name; these are the harness's and the benchmarks' default choices."""

from __future__ import annotations

import torch
from torch import nn


def feature_layers(model: nn.Module) -> list[str]:
    """The model's stages of convolutional features, shallow to deep, by qualified name.

    ResNets: the stem's ReLU, then ``layer1`` to ``layer4`` (their blocks reuse one ReLU
    module, so a block's ReLU is no single stage). Other networks: each ``nn.ReLU`` that
    follows a convolution (through an optional batch norm), else the convolutions themselves.
    """
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
    return relus or [name for name, m in modules if isinstance(m, nn.Conv2d)]


def layers_for(model: nn.Module) -> list[str]:
    """``feature_layers``, refused (with the reason) when the model has none."""
    layers = feature_layers(model)
    if not layers:
        raise ValueError("the generative methods need convolutional feature layers; "
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


def last_conv(model: nn.Module) -> str:
    """Grad-CAM's default layer: the last convolution's activation (the ReLU module right
    after the last ``nn.Conv2d``, as in Selvaraju et al.'s VGG set-up), else the conv itself."""
    modules = list(model.named_modules())
    convs = [i for i, (_, m) in enumerate(modules) if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("grad_cam needs a convolutional layer and the model has none")
    i = convs[-1]
    if i + 1 < len(modules) and isinstance(modules[i + 1][1], nn.ReLU):
        return modules[i + 1][0]
    return modules[i][0]


def first_activation(model: nn.Module) -> str:
    """The ReLU after the first convolution: the lecture's first-layer activations."""
    modules = list(model.named_modules())
    for i, (_, m) in enumerate(modules):
        if isinstance(m, nn.Conv2d):
            after = modules[i + 1] if i + 1 < len(modules) else None
            return after[0] if after and isinstance(after[1], nn.ReLU) else modules[i][0]
    raise ValueError("the representation views need a convolutional layer")


def accepts_size(model: nn.Module, channels: int, side: int) -> bool:
    """Whether the model runs on ``side x side`` images (fully connected heads do not)."""
    device, dtype = next((t.device, t.dtype) for t in model.parameters())
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, side, side, device=device, dtype=dtype))
    except RuntimeError:
        return False
    return True
