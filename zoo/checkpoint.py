"""Loading state-dict checkpoints safely: ``weights_only=True`` always, clear errors always."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a file holding a state dict (tensors by name) without unpickling anything else.

    Accepts a plain state dict, or a dict that wraps one under ``"state_dict"`` or ``"model"``
    (the two layouts training scripts commonly write).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as err:
        raise ValueError(
            f"weights file {path} is not a readable state-dict checkpoint (it was opened with "
            f"torch.load(weights_only=True), which refuses arbitrary pickles): {err}"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not obj:
        found = type(obj).__name__
        raise ValueError(f"weights file {path} does not hold a state dict (found {found})")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(
            f"weights file {path} is not a state dict: entry {bad[0]!r} is not a tensor"
        )
    return dict(obj)


def load_weights(net: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``net`` strictly, naming the first key or shape that does not match."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        first = f"missing key {missing[0]!r}" if missing else f"unexpected key {unexpected[0]!r}"
        raise ValueError(
            f"weights from {source} do not match the architecture: {first} "
            f"({len(missing)} missing, {len(unexpected)} unexpected)"
        )
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            raise ValueError(
                f"weights from {source} do not match the architecture: {key!r} has shape "
                f"{tuple(state[key].shape)}, the model expects {tuple(tensor.shape)}"
            )
    net.load_state_dict(state, strict=True)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a weights file, for the audit trail."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
