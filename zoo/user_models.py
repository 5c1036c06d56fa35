"""Bring your own model: build a ``Classifier`` from a factory, an exported program or TorchScript.

``zoo.load_model`` hands these specs here:

- ``module.path:factory`` imports the module and calls ``factory()``;
- ``path/to/file.py:factory`` loads the file as a module and calls ``factory()``;
- ``model.pt2`` is a ``torch.export`` program (``torch.export.load(path).module()``);
- ``model.pt`` / ``.pth`` / ``.ts`` holding TorchScript is loaded with ``torch.jit.load``.

The network is wrapped in ``Normalize(mean, std)`` so every method works in ``[0, 1]`` pixels
(no normalisation unless ``mean``/``std`` are given). ``num_classes`` comes from one probe
forward pass, which also spots networks whose outputs are already probabilities.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from zoo.checkpoint import load_weights, read_state_dict
from zoo.normalize import Classifier, Normalize

EXPORTED_SUFFIX = ".pt2"
SCRIPT_SUFFIXES = (".pt", ".pth", ".ts")
PROBE_SEED = 0
PROB_TOLERANCE = 1e-4


class UserModelError(ValueError):
    """A user-supplied model spec that cannot be turned into a classifier."""


def is_user_spec(spec: str, registered: bool = False) -> bool:
    """Whether ``spec`` names a user model rather than a registry entry or ``tv:<arch>``."""
    if spec.startswith("tv:") or registered:
        return False
    if ":" in spec:
        return True
    suffix = Path(spec).suffix
    return suffix == EXPORTED_SUFFIX or (suffix in SCRIPT_SUFFIXES and Path(spec).is_file())


def load_user_model(
    spec: str,
    weights: str | Path | None = None,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    input_size: int | Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
) -> Classifier:
    """A user's network as an eval-mode ``Classifier`` mapping ``[0, 1]`` pixels to scores."""
    _check_stats(spec, mean, std)
    load = _from_factory if _is_factory_spec(spec) else _from_archive
    net = load(spec, weights)
    net.eval()
    shape = _input_shape(spec, net, input_size, mean, std)
    mean_t, std_t = _stats(spec, shape[0], mean, std)
    num_classes, probabilities = _probe(spec, net, Normalize(mean_t, std_t), shape)
    if class_names is not None and len(class_names) != num_classes:
        raise UserModelError(
            f"{spec!r}: class_names has {len(class_names)} names, the model has {num_classes} "
            "outputs"
        )
    model = Classifier(
        net, mean=mean_t, std=std_t, num_classes=num_classes, input_shape=shape, name=spec,
        class_names=class_names, weights=str(weights) if weights is not None else "",
    )
    model.outputs_probabilities = probabilities
    return model.eval()


def _is_factory_spec(spec: str) -> bool:
    suffix = Path(spec).suffix
    return ":" in spec and suffix != EXPORTED_SUFFIX and suffix not in SCRIPT_SUFFIXES


# --- factories -------------------------------------------------------------------------------


def _from_factory(spec: str, weights: str | Path | None) -> nn.Module:
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise UserModelError(f"{spec!r}: expected 'module.path:factory' or 'file.py:factory'")
    if weights is not None and not Path(weights).is_file():
        raise FileNotFoundError(f"{spec!r}: weights file not found: {weights}")
    module = _load_file(spec, target) if _looks_like_file(target) else _import(spec, target)
    factory = getattr(module, attr, None)
    if factory is None:
        raise ImportError(f"{spec!r}: module {target!r} has no attribute {attr!r}")
    if not callable(factory):
        raise UserModelError(f"{spec!r}: {attr!r} is not callable")
    try:
        net = factory()
    except Exception as err:
        raise UserModelError(
            f"{spec!r}: factory {attr} raised: {type(err).__name__}: {err}"
        ) from err
    if not isinstance(net, nn.Module):
        raise UserModelError(
            f"{spec!r}: factory {attr} returned {type(net).__name__}, not a torch.nn.Module"
        )
    if weights is not None:
        load_weights(net, read_state_dict(weights), str(weights))
    return net


def _looks_like_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _import(spec: str, target: str) -> ModuleType:
    try:
        return importlib.import_module(target)
    except ImportError as err:
        raise ImportError(f"{spec!r}: cannot import module {target!r}: {err}") from err


def _load_file(spec: str, target: str) -> ModuleType:
    path = Path(target).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{spec!r}: file not found: {target}")
    # a unique, stable name per file, so two user files called model.py do not collide
    name = "_auditbench_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"{spec!r}: cannot load {target} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(name, None)
        raise ImportError(
            f"{spec!r}: importing {target} raised {type(err).__name__}: {err}"
        ) from err
    return module


# --- exported programs and TorchScript ----------------------------------------------------


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


def _from_archive(spec: str, weights: str | Path | None) -> nn.Module:
    path = Path(spec)
    if weights is not None:
        raise UserModelError(
            f"{spec!r}: weights= is only for factory specs; an exported or TorchScript model "
            "carries its own weights"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{spec!r}: model file not found: {path}")
    if path.suffix == EXPORTED_SUFFIX:
        return _load_exported(spec, path)
    return _load_torchscript(spec, path)


def _load_exported(spec: str, path: Path) -> nn.Module:
    try:
        program = torch.export.load(path)
    except Exception as err:
        raise UserModelError(
            f"{spec!r}: torch.export.load failed: {type(err).__name__}: {err}"
        ) from err
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
            f"{spec!r}: torch.jit.load failed: {type(err).__name__}: {err}"
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


# --- shape, normalisation, probe -------------------------------------------------------------


def _check_stats(spec: str, mean: Sequence[float] | None, std: Sequence[float] | None) -> None:
    if std is not None and any(float(s) <= 0 for s in std):
        raise UserModelError(f"{spec!r}: std must be positive per channel, got {list(std)}")
    if mean is not None and std is not None and len(mean) != len(std):
        raise UserModelError(
            f"{spec!r}: mean and std need one value per channel: {list(mean)}, {list(std)}"
        )


def _input_shape(
    spec: str,
    net: nn.Module,
    input_size: int | Sequence[int] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
) -> tuple[int, int, int]:
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


def _stats(
    spec: str, channels: int, mean: Sequence[float] | None, std: Sequence[float] | None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    mean_t = tuple(float(m) for m in mean) if mean is not None else (0.0,) * channels
    std_t = tuple(float(s) for s in std) if std is not None else (1.0,) * channels
    if len(mean_t) != channels or len(std_t) != channels:
        raise UserModelError(
            f"{spec!r}: mean and std need {channels} values (one per input channel), got "
            f"{list(mean_t)} and {list(std_t)}"
        )
    return mean_t, std_t


@torch.no_grad()
def _probe(
    spec: str, net: nn.Module, normalize: Normalize, shape: tuple[int, int, int]
) -> tuple[int, bool]:
    """``num_classes`` and whether the outputs look like probabilities, from one forward pass
    of a zero image and a seeded random one."""
    generator = torch.Generator().manual_seed(PROBE_SEED)
    x = torch.stack([torch.zeros(shape), torch.rand(shape, generator=generator)])  # (2, C, H, W)
    try:
        out = net(normalize(x))
    except Exception as err:
        raise UserModelError(
            f"{spec!r}: the model failed on a probe batch of shape {tuple(x.shape)} "
            f"(an exported model needs a dynamic batch dimension): {type(err).__name__}: {err}"
        ) from err
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2 or out.shape[1] < 2:
        found = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserModelError(
            f"{spec!r}: the model must output (N, K) class scores with K >= 2; on a batch of "
            f"2 it returned {found}"
        )
    probabilities = bool(
        (out >= 0).all() and ((out.sum(dim=1) - 1).abs() <= PROB_TOLERANCE).all()
    )
    if probabilities:
        warnings.warn(
            f"{spec!r} outputs probabilities (rows are non-negative and sum to 1), not logits: "
            "attacks and attributions on softmax outputs are weaker (saturated gradients)",
            UserWarning,
            stacklevel=4,
        )
    return int(out.shape[1]), probabilities
