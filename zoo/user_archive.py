"""Load a user's model file: a ``torch.export`` program (``.pt2``) or TorchScript.

- ``model.pt2`` is a ``torch.export`` program (``torch.export.load(path).module()``), wrapped
  in ``ExportedNet`` because its mode was fixed at export;
- ``model.pt`` / ``.pth`` / ``.ts`` holding TorchScript is loaded with ``torch.jit.load``.
  A plain state dict under those suffixes is refused with a hint to name a factory instead.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import torch
from torch import nn

from zoo.checkpoint import read_state_dict
from zoo.user_spec import EXPORTED_SUFFIX, MissingModelFileError, UserModelError, one_line


class ExportedNet(nn.Module):
    """A ``torch.export`` program's module. Its mode was fixed at export, and it refuses
    ``train()``/``eval()``, so this wrapper only records the flag."""

    def __init__(self, program: nn.Module) -> None:
        super().__init__()
        self.program = program
        for module in program.modules():
            module.training = False  # plain flag: the graph ignores it

    def train(self, mode: bool = True) -> ExportedNet:
        self.training = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.program(x)


def from_archive(spec: str, weights: str | Path | None) -> nn.Module:
    """The module stored in the ``.pt2`` or TorchScript file ``spec``."""
    path = Path(spec)
    if weights is not None:
        raise UserModelError(
            f"{spec!r}: weights= is only for factory specs; an exported or TorchScript model "
            "carries its own weights"
        )
    if not path.exists():
        raise MissingModelFileError(f"{spec!r}: model file not found: {path}")
    if not path.is_file():
        raise UserModelError(f"{spec!r}: {path} is not a file")
    if path.suffix == EXPORTED_SUFFIX:
        return _load_exported(spec, path)
    return _load_torchscript(spec, path)


def _load_exported(spec: str, path: Path) -> nn.Module:
    # torch.export logs a damaged archive's traceback before it raises: the error below says
    # it in one line instead
    logger = logging.getLogger("torch.export")
    disabled, logger.disabled = logger.disabled, True
    try:
        program = torch.export.load(path)
    except Exception as err:
        raise UserModelError(
            f"{spec!r}: torch.export.load failed: {type(err).__name__}: {one_line(err)}"
        ) from err
    finally:
        logger.disabled = disabled
    return ExportedNet(program.module())


def _load_torchscript(spec: str, path: Path) -> nn.Module:
    if not _is_torchscript_archive(path):
        _refuse_non_script(spec, path)
    jit_load = getattr(getattr(torch, "jit", None), "load", None)
    if jit_load is None:
        raise UserModelError(
            f"{spec!r} is TorchScript, which torch {torch.__version__} no longer loads; "
            "re-export the model with torch.export and pass the .pt2 file"
        )
    try:
        return jit_load(str(path), map_location="cpu")
    except Exception as err:
        raise UserModelError(
            f"{spec!r}: torch.jit.load failed: {type(err).__name__}: {one_line(err)}"
        ) from err


def _is_torchscript_archive(path: Path) -> bool:
    """TorchScript archives are zips with ``code/`` and ``constants.pkl``; state dicts are not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def _refuse_non_script(spec: str, path: Path) -> None:
    try:
        read_state_dict(path)
    except ValueError:
        raise UserModelError(
            f"{spec!r} is neither a TorchScript model nor a state dict"
        ) from None
    raise UserModelError(
        f"{spec!r} holds a state dict, not a model: name the architecture with "
        f"'module.path:factory' or 'file.py:factory' and pass weights={str(path)!r}"
    )
