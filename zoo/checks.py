"""Input checks shared by every method: fail with one clear error before any work is done.

Each check names the argument it rejects, so a user who passes a uint8 image or a label of
10 to a 10-class model learns which argument is wrong, not where the traceback ended. Every
refusal is a ``zoo.errors.UserError`` (a ``ValueError``); a name that is not among the
choices an ``UnknownNameError``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from zoo.errors import UnknownNameError, UserError


def check_images(x: object, name: str = "x") -> torch.Tensor:
    """Check a batch of images in pixel space: float ``(N, C, H, W)`` in ``[0, 1]``, finite."""
    if not isinstance(x, torch.Tensor):
        raise UserError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise UserError(
            f"{name} must be a floating-point tensor of pixels in [0, 1], got dtype {x.dtype}"
            " (convert integer images with x.float() / 255)"
        )
    if x.dim() != 4:
        raise UserError(f"{name} must have shape (N, C, H, W), got {tuple(x.shape)}")
    if x.numel() == 0:
        raise UserError(f"{name} is empty: shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise UserError(f"{name} contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise UserError(f"{name} must lie in [0, 1], found values in [{lo:.4g}, {hi:.4g}]")
    return x


def check_labels(
    y: object, n: int, num_classes: int | None = None, name: str = "y"
) -> torch.Tensor:
    """Check integer class labels ``(N,)``, one per image, inside ``[0, num_classes)``."""
    if not isinstance(y, torch.Tensor):
        raise UserError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise UserError(f"{name} must be an integer tensor of class indices, got {y.dtype}")
    if y.dim() != 1 or y.shape[0] != n:
        raise UserError(f"{name} must have shape ({n},) to match the images, got {tuple(y.shape)}")
    if y.numel() and int(y.min()) < 0:
        raise UserError(f"{name} holds a negative class index ({int(y.min())})")
    if num_classes is not None and y.numel() and int(y.max()) >= num_classes:
        raise UserError(
            f"{name} holds class index {int(y.max())}, but the model has {num_classes} classes"
        )
    return y


def check_nonnegative(value: object, name: str) -> float:
    """Check a finite, non-negative real budget such as ``eps`` or ``alpha``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise UserError(f"{name} must be finite and >= 0, got {value!r}")
    return float(value)


def check_count(value: object, name: str, minimum: int = 0) -> int:
    """Check an integer count such as ``steps`` or ``restarts``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise UserError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """Check that ``value`` is one of a fixed set of names."""
    options = tuple(choices)
    if value not in options:
        raise UnknownNameError(
            f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return str(value)


def check_eps_grid(eps: object, name: str = "eps") -> list[float]:
    """Check a non-empty grid of budgets and return it sorted ascending."""
    if isinstance(eps, (int, float)):
        eps = [eps]
    if not isinstance(eps, (list, tuple)) or not eps:
        raise UserError(f"{name} must be a non-empty list of numbers, got {eps!r}")
    return sorted(check_nonnegative(e, f"{name}[{i}]") for i, e in enumerate(eps))


def check_generator(generator: object, x: torch.Tensor | None = None) -> torch.Generator | None:
    """``None`` or a ``torch.Generator`` on the same kind of device as ``x`` (on the CPU when
    there is no ``x``: the draw is made there)."""
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise UserError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    device = x.device if x is not None else torch.device("cpu")
    if generator.device.type != device.type:
        where = f"x is on {device}" if x is not None else "it must be a CPU generator"
        raise UserError(f"generator is on {generator.device}; {where}")
    return generator


def check_baseline(baseline: object, x: torch.Tensor, name: str = "baseline") -> torch.Tensor:
    """A reference value for ``x``: a finite number, or a finite tensor that broadcasts to
    ``x``; returned as a tensor shaped like ``x`` on its device and dtype."""
    if isinstance(baseline, torch.Tensor):
        if not bool(torch.isfinite(baseline).all()):
            raise UserError(f"{name} contains NaN or infinite values")
        try:
            return torch.broadcast_to(baseline.to(x.device, x.dtype), x.shape)
        except RuntimeError:
            raise UserError(f"{name} of shape {tuple(baseline.shape)} does not broadcast to x "
                            f"{tuple(x.shape)}") from None
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float)):
        raise UserError(f"{name} must be a number or a tensor, got {type(baseline).__name__}")
    if not math.isfinite(baseline):
        raise UserError(f"{name} must be finite, got {baseline!r}")
    return torch.full_like(x, float(baseline))


def check_window(
    window: object, stride: object, shape: tuple[int, ...], *, cover: bool = False
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A sliding window and its stride over an image of ``shape`` (``(H, W)``, or ``(C, H, W)``
    for a window that may also slide over channels), as one int per dimension.

    An int, or an ``(h, w)`` pair, spans every channel (stride 1 across them). Every window
    side must fit the image, every stride be >= 1; with ``cover``, no stride may exceed its
    window where the window is smaller than the image (the pixels between two windows would
    never be covered).
    """
    def ints(value: object, what: str, length: int) -> tuple[int, ...]:
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value,) * length
        if (not isinstance(value, (tuple, list)) or len(value) != length
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            raise UserError(f"{what} must be an int or {length} ints, got {value!r}")
        return tuple(value)

    if len(shape) == 3 and not (isinstance(window, (tuple, list)) and len(window) == 3):
        win = (shape[0], *ints(window, "window", 2))
        step = (1, *ints(stride, "stride", 2))
    else:
        win, step = ints(window, "window", len(shape)), ints(stride, "stride", len(shape))
    for size, w, s in zip(shape, win, step, strict=True):
        if not 1 <= w <= size:
            raise UserError(f"window {win} must fit the image {tuple(shape)}")
        if s < 1:
            raise UserError(f"stride must be >= 1, got {step}")
        if cover and s > w and w < size:
            raise UserError(f"stride {step} is larger than the window {win}")
    return win, step
