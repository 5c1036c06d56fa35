"""Build a user's network by calling a factory: ``module.path:factory`` or ``file.py:factory``.

``module.path`` is imported; a ``.py`` file is loaded as a module under a unique name. The
factory is called with no arguments and must return a ``torch.nn.Module``; ``weights`` (a
state dict file) is then loaded into it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from torch import nn

from zoo.checkpoint import load_weights, read_state_dict
from zoo.user_spec import MissingModelFileError, ModelImportError, UserModelError, one_line


def from_factory(spec: str, weights: str | Path | None) -> nn.Module:
    """The module returned by the factory ``spec`` names, with ``weights`` loaded if given."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise UserModelError(f"{spec!r}: expected 'module.path:factory' or 'file.py:factory'")
    if weights is not None and not Path(weights).is_file():
        raise MissingModelFileError(f"{spec!r}: weights file not found: {weights}")
    module = _load_file(spec, target) if _looks_like_file(target) else _import(spec, target)
    factory = getattr(module, attr, None)
    if factory is None:
        raise ModelImportError(f"{spec!r}: module {target!r} has no attribute {attr!r}")
    if not callable(factory):
        raise UserModelError(f"{spec!r}: {attr!r} is not callable")
    try:
        net = factory()
    except (Exception, SystemExit) as err:
        raise UserModelError(
            f"{spec!r}: factory {attr} raised: {type(err).__name__}: {one_line(err)}"
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
        raise ModelImportError(f"{spec!r}: cannot import module {target!r}: {err}") from err
    except (Exception, SystemExit) as err:  # the user's module raised while it was imported
        raise ModelImportError(
            f"{spec!r}: importing module {target!r} raised {type(err).__name__}: "
            f"{one_line(err)}") from err


def _load_file(spec: str, target: str) -> ModuleType:
    path = Path(target).resolve()
    if not path.is_file():
        raise MissingModelFileError(f"{spec!r}: file not found: {target}")
    # a unique, stable name per file, so two user files called model.py do not collide
    name = "_auditbench_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ModelImportError(f"{spec!r}: cannot load {target} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:  # a syntax error, a failing import, sys.exit()
        sys.modules.pop(name, None)
        raise ModelImportError(
            f"{spec!r}: importing {target} raised {type(err).__name__}: {one_line(err)}"
        ) from err
    return module

