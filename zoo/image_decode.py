"""Decode one image file into a ``(C, H, W)`` float tensor in ``[0, 1]`` and resize it.

* Every image is converted to ``channels`` (RGBA / LA / transparent palette images are
  composited onto white first); 16-bit and float images keep their range.
* Resizing: an ``int`` size resizes the shorter side and centre crops, a ``(H, W)`` tuple
  resizes exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
_HIGH_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img.convert("RGBA"))
    return img.convert("L" if channels == 1 else "RGB")


def _to_array(img: Image.Image, channels: int) -> np.ndarray:
    """``(H, W, channels)`` float32 in [0, 1]; 16-bit and float images keep their range."""
    if img.mode in _HIGH_BIT_MODES or img.mode == "F":
        scale = 1.0 if img.mode == "F" else 65535.0
        grey = np.clip(np.asarray(img, dtype=np.float32) / scale, 0, 1)[..., None]
        return np.repeat(grey, channels, axis=2)
    arr = np.asarray(_to_mode(img, channels), dtype=np.float32) / 255.0
    return arr[..., None] if arr.ndim == 2 else arr


def decode_image(path: Path, channels: int) -> torch.Tensor:
    """The image at ``path`` as float32 ``(channels, H, W)`` in ``[0, 1]``; PIL errors pass."""
    with Image.open(path) as img:
        img.load()
        arr = _to_array(img, channels)
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)  # (C, H, W)


def resize_image(img: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """``(C, H, W)`` -> ``(C, size, size)`` (shorter side, centre crop) or ``(C, *size)``."""
    if isinstance(size, int):
        img = TF.resize(img, [size], antialias=True)  # shorter side -> size
        img = TF.center_crop(img, [size, size])
    else:
        img = TF.resize(img, list(size), antialias=True)
    return img.clamp_(0, 1)
