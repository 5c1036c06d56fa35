"""Fit a user's network to the ``[0, 1]`` pixel contract: input shape, stats and one probe.

The input shape comes from ``input_size`` or the network's own ``input_shape``; ``mean`` and
``std`` default to no normalisation (zeros and ones per channel). ``num_classes`` comes from
one probe forward pass, which also spots networks whose outputs are already probabilities,
and refuses a network that returns a structure (a tuple, a dict, an object with ``.logits``)
unless ``output`` says where its logits are.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from zoo.normalize import Normalize
from zoo.outputs import Output, describe_output, select_output
from zoo.user_spec import UserModelError, one_line

PROBE_SEED = 0
PROB_TOLERANCE = 1e-4


def check_stats(spec: str, mean: Sequence[float] | None, std: Sequence[float] | None) -> None:
    """Refuse non-positive ``std`` and ``mean``/``std`` of different lengths."""
    if std is not None and any(float(s) <= 0 for s in std):
        raise UserModelError(f"{spec!r}: std must be positive per channel, got {list(std)}")
    if mean is not None and std is not None and len(mean) != len(std):
        raise UserModelError(
            f"{spec!r}: mean and std need one value per channel: {list(mean)}, {list(std)}"
        )


def input_shape(
    spec: str,
    net: nn.Module,
    input_size: int | Sequence[int] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
) -> tuple[int, int, int]:
    """``(C, H, W)`` from ``input_size`` (an int side or a shape) or ``net.input_shape``."""
    if input_size is None:
        declared = getattr(net, "input_shape", None)
        if declared is None:
            raise UserModelError(
                f"{spec!r}: pass input_size (an int side or (C, H, W)); the model declares no "
                "input_shape"
            )
        input_size = declared
    if isinstance(input_size, int):
        stats = mean if mean is not None else std
        channels = len(stats) if stats is not None else 3
        return (channels, input_size, input_size)
    shape = tuple(int(s) for s in input_size)
    if len(shape) != 3 or min(shape) < 1:
        raise UserModelError(f"{spec!r}: input_size must be an int or (C, H, W), got {shape}")
    return shape  # type: ignore[return-value]


def channel_stats(
    spec: str, channels: int, mean: Sequence[float] | None, std: Sequence[float] | None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``mean`` and ``std`` as float tuples of length ``channels`` (defaults: 0 and 1)."""
    mean_t = tuple(float(m) for m in mean) if mean is not None else (0.0,) * channels
    std_t = tuple(float(s) for s in std) if std is not None else (1.0,) * channels
    if len(mean_t) != channels or len(std_t) != channels:
        raise UserModelError(
            f"{spec!r}: mean and std need {channels} values (one per input channel), got "
            f"{list(mean_t)} and {list(std_t)}"
        )
    return mean_t, std_t


def _looks_like_logits(value: object, batch: int) -> bool:
    return isinstance(value, torch.Tensor) and value.ndim == 2 and value.shape[0] == batch


def suggest_output(out: object, batch: int) -> int | str | None:
    """Where the logits probably are in a structure a network returned: the first ``(N, K)``
    tensor of a tuple or list (else item 0), ``logits`` or the first ``(N, K)`` entry of a
    dict or attribute of an object; ``None`` when nothing fits."""
    if isinstance(out, (tuple, list)):
        return next((i for i, v in enumerate(out) if _looks_like_logits(v, batch)),
                    0 if out else None)
    if not isinstance(out, Mapping) and hasattr(out, "logits"):
        return "logits"
    items = dict(out) if isinstance(out, Mapping) else {
        k: v for k, v in getattr(out, "__dict__", {}).items() if not k.startswith("_")}
    if "logits" in items:
        return "logits"
    return next((k for k, v in items.items()
                 if isinstance(k, str) and _looks_like_logits(v, batch)), None)


def _structure_error(spec: str, out: object, batch: int) -> UserModelError:
    """The error for a network that returns a structure and no ``output`` to pick from it."""
    what = f"{spec!r} returns {describe_output(out)}, not a tensor of class scores"
    pick = suggest_output(out, batch)
    if pick is None:
        return UserModelError(f"{what}; it must output (N, K) class scores with K >= 2")
    keys = f" (its keys: {', '.join(map(repr, out))})" if isinstance(out, Mapping) else ""
    toml = pick if isinstance(pick, int) else f'"{pick}"'
    return UserModelError(
        f"{what}: say where its logits are with output={pick!r}{keys}: --output {pick} on "
        f"the command line, output = {toml} in a [models.NAME] table")


@torch.no_grad()
def probe(
    spec: str, net: nn.Module, normalize: Normalize, shape: tuple[int, int, int],
    output: Output = None,
) -> tuple[int, bool]:
    """``num_classes`` and whether the outputs look like probabilities, from one forward pass
    of a zero image and a seeded random one. ``output`` picks the logits from a network that
    returns a structure (``zoo.normalize.select_output``); without it such a network is
    refused with an error naming the structure and the ``output`` that fits."""
    generator = torch.Generator().manual_seed(PROBE_SEED)
    x = torch.stack([torch.zeros(shape), torch.rand(shape, generator=generator)])  # (2, C, H, W)
    try:
        out = net(normalize(x))
    except Exception as err:
        raise UserModelError(
            f"{spec!r}: the model failed on a probe batch of shape {tuple(x.shape)} "
            f"(an exported model needs a dynamic batch dimension): {type(err).__name__}: "
            f"{one_line(err)}"
        ) from err
    if output is None and not isinstance(out, torch.Tensor):
        raise _structure_error(spec, out, len(x))
    try:
        out = select_output(out, output)
    except ValueError as err:
        raise UserModelError(f"{spec!r}: {err}") from None
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2 or out.shape[1] < 2:
        found = tuple(out.shape) if isinstance(out, torch.Tensor) else describe_output(out)
        picked = f" (its output={output!r})" if output is not None else ""
        raise UserModelError(
            f"{spec!r}: the model must output (N, K) class scores with K >= 2; on a batch of "
            f"2 it returned{picked} {found}"
        )
    probabilities = bool(
        (out >= 0).all() and ((out.sum(dim=1) - 1).abs() <= PROB_TOLERANCE).all()
    )
    if probabilities:
        # frames: probe, torch.no_grad's wrapper, load_user_model, zoo.load_model: 5 is the
        # caller of zoo.load_model
        warnings.warn(
            f"{spec!r} outputs probabilities (rows are non-negative and sum to 1), not logits: "
            "attacks and attributions on softmax outputs are weaker (saturated gradients)",
            UserWarning,
            stacklevel=5,
        )
    return int(out.shape[1]), probabilities
