"""Loading state-dict checkpoints safely: ``weights_only=True`` always, clear errors always.

Whatever is wrong with a weights file (missing, empty, not a checkpoint, a pickle of objects
that ``weights_only=True`` refuses, a tensor or a dict of other things instead of a state
dict, another architecture's keys or shapes) is a ``WeightsError``: a ``UserError`` whose
message is one line naming the file and the problem. A missing file is also a
``FileNotFoundError``.
"""

from __future__ import annotations

import hashlib
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch import nn

from zoo.errors import UserError

#: how many keys an architecture mismatch names
KEYS_SHOWN = 3
#: globals a plain state dict's pickle holds (``weights_only=True`` allows them)
_PLAIN_GLOBALS = ("torch.", "collections.OrderedDict", "_codecs.encode")
_UNSUPPORTED = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class WeightsError(UserError):
    """A weights file that cannot be read as a state dict, or does not fit the model."""


class MissingWeightsError(WeightsError, FileNotFoundError):
    """The weights file is not there."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a file holding a state dict (tensors by name) without unpickling anything else.

    Accepts a plain state dict, or a dict that wraps one under ``"state_dict"`` or ``"model"``
    (the two layouts training scripts commonly write).
    """
    path = Path(path)
    if not path.exists():
        raise MissingWeightsError(f"weights file not found: {path}")
    if not path.is_file():
        raise WeightsError(f"weights file {path} is not a file")
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file {path} is empty (0 bytes): not a state-dict checkpoint")
    try:
        with warnings.catch_warnings():
            # torch warns about TorchScript archives and pickle protocols on stderr: the error
            # below says what the file is instead
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as err:  # torch.load fails in many ways on a file that is no checkpoint
        raise _unreadable(path, err) from None
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping):
        raise WeightsError(
            f"weights file {path} holds {_kind(obj)}, not a state dict (tensors by name); "
            "save model.state_dict() instead")
    if not obj:
        raise WeightsError(f"weights file {path} holds an empty dict, not a state dict")
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise WeightsError(
                f"weights file {path} is not a state dict: entry {key!r} holds {_kind(value)}, "
                "not a tensor; save model.state_dict() instead")
    return dict(obj)


def _kind(obj: object) -> str:
    """``a Tensor of shape (3,)``, ``an int``, ``a list``: what a file or entry holds."""
    if isinstance(obj, torch.Tensor):
        return f"a Tensor of shape {tuple(obj.shape)}"
    name = type(obj).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _unreadable(path: Path, err: Exception) -> WeightsError:
    """The one-line error for a file ``torch.load(weights_only=True)`` did not read."""
    text = _ANSI.sub("", str(err))
    if "TorchScript" in text:
        return WeightsError(
            f"weights file {path} is a TorchScript model, not a state dict: pass it as --model "
            "(or zoo.load_model(path)) without weights")
    refused = isinstance(err, pickle.UnpicklingError) and ("Weights only" in text
                                                           or "WeightsUnpickler" in text)
    names = _pickled_names(path) if refused else None
    if names is not None:  # a well-formed pickle that holds more than tensors
        found = _UNSUPPORTED.search(text)
        name = found.group(1) if found else next(
            (n for n in names if not n.startswith(_PLAIN_GLOBALS)), "")
        held = f" ({name})" if name else ""
        return WeightsError(
            f"weights file {path} is not a plain state dict: it holds pickled objects{held}, "
            "which auditbench never unpickles (weights_only=True); save model.state_dict() "
            "instead")
    # torch's own text (``IndexError: pop from empty list`` for a CSV) would not help
    return WeightsError(
        f"weights file {path} is not a PyTorch checkpoint (torch.load cannot read it); give "
        "a file written by torch.save(model.state_dict(), path)")


def _pickled_names(path: Path) -> list[str] | None:
    """The classes and functions a pickle names, read from its opcodes (nothing is
    unpickled); ``None`` when the file is no well-formed pickle."""
    try:
        return list(_pickle_globals(_pickle_bytes(path)))
    except Exception:  # not a pickle: the caller says the file is no checkpoint
        return None


def _pickle_bytes(path: Path) -> bytes:
    """The pickle of a checkpoint: ``*/data.pkl`` of a zip checkpoint, else the file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            return archive.read(name) if name else b""
    return path.read_bytes()


def _pickle_globals(data: bytes) -> Iterator[str]:
    """``module.name`` of each GLOBAL / STACK_GLOBAL opcode of a pickle, in order."""
    strings: list[str] = []
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name == "GLOBAL":
            yield str(arg).replace(" ", ".")
        elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
            yield f"{strings[-2]}.{strings[-1]}"
        elif isinstance(arg, str):
            strings.append(arg)


def load_weights(net: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``net`` strictly, naming the first keys or the shape that do not
    match (``WeightsError``)."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        first = f"missing key {missing[0]!r}" if missing else f"unexpected key {unexpected[0]!r}"
        listed = "; ".join(f"{what} {_first_keys(keys)}" for what, keys in
                           (("missing", missing), ("unexpected", unexpected)) if keys)
        raise WeightsError(
            f"weights from {source} do not match the architecture: {first} "
            f"({len(missing)} missing, {len(unexpected)} unexpected): {listed}; are they "
            "another model's?")
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            raise WeightsError(
                f"weights from {source} do not match the architecture: {key!r} has shape "
                f"{tuple(state[key].shape)}, the model expects {tuple(tensor.shape)}"
            )
    net.load_state_dict(state, strict=True)


def _first_keys(keys: list[str]) -> str:
    shown = ", ".join(map(repr, keys[:KEYS_SHOWN]))
    return shown + (f" and {len(keys) - KEYS_SHOWN} more" if len(keys) > KEYS_SHOWN else "")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a weights file, for the audit trail."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
