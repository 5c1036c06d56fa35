"""The models users bring, as factories a user would write (``file.py:factory``), with random
weights and small depths so that their quick audits take seconds: torchvision's MobileNetV3,
timm's ResNet, EfficientNet, ConvNeXt and ViT (timm's test configurations: the real blocks,
activations and norms, fewer and narrower), models that return a tuple or a dict, and
one left in training mode. The ViT takes one input size (32 px) and asserts it."""

from __future__ import annotations

import timm
import torch
import torchvision
from torch import nn

CLASSES = 3


def resnet() -> nn.Module:
    """timm's ResNet (ReLU, batch norm, residual blocks)."""
    torch.manual_seed(0)
    return timm.create_model("test_resnet", num_classes=CLASSES)


def efficientnet() -> nn.Module:
    """timm's EfficientNet (SiLU, squeeze-and-excitation, depthwise convolutions)."""
    torch.manual_seed(0)
    return timm.create_model("test_efficientnet", num_classes=CLASSES)


def mobilenet() -> nn.Module:
    """torchvision's MobileNetV3-Small at a quarter width: ReLU and Hardswish mixed."""
    torch.manual_seed(0)
    return torchvision.models.mobilenet_v3_small(num_classes=CLASSES, width_mult=0.25)


def convnext() -> nn.Module:
    """timm's ConvNeXt (GELU, channel-wise layer norm, 7x7 depthwise convolutions)."""
    torch.manual_seed(0)
    return timm.create_model("test_convnext", num_classes=CLASSES)


def vit() -> nn.Module:
    """timm's ViT on 8 px patches of 32 px images: it takes that size and no other."""
    torch.manual_seed(0)
    return timm.create_model("test_vit", num_classes=CLASSES, img_size=32, patch_size=8)


class TwoHeads(nn.Module):
    """A small CNN that returns its logits with its features, as a tuple or as a dict."""

    def __init__(self, as_dict: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.as_dict = as_dict
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(16, CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | dict:
        features = self.body(x)
        logits = self.head(features)
        return {"logits": logits, "features": features} if self.as_dict else (logits, features)


def tuple_output() -> nn.Module:
    return TwoHeads(as_dict=False)


def dict_output() -> nn.Module:
    return TwoHeads(as_dict=True)


def training_mode() -> nn.Module:
    """The ResNet as a user might hand it over: still in training mode."""
    return resnet().train()
