"""zoo: the models and data auditbench audits, and the plumbing that holds a model safely.

The names below are imported on first use (PEP 562), so that ``import zoo.errors`` (the user
error type, which the command line needs before anything else) does not import PyTorch.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

#: public name -> the submodule that defines it
_WHERE = {
    **dict.fromkeys(("check_choice", "check_count", "check_eps_grid", "check_generator",
                     "check_images", "check_labels", "check_nonnegative"), "zoo.checks"),
    "load_class_names": "zoo.class_names",
    **dict.fromkeys(("BUNDLED_PHOTOS", "DATASETS", "PHOTOS", "list_datasets", "load_dataset",
                     "load_masks", "load_photo"), "zoo.datasets"),
    **dict.fromkeys(("UnknownNameError", "UserError"), "zoo.errors"),
    **dict.fromkeys(("ModelState", "check_model", "frozen_parameters", "num_classes",
                     "warn_if_training"), "zoo.guard"),
    **dict.fromkeys(("HookSet", "find_modules", "get_layer"), "zoo.hooks"),
    **dict.fromkeys(("ImageFolderData", "load_image_folder"), "zoo.image_folder"),
    "feature_layers": "zoo.layers",
    **dict.fromkeys(("build_model", "list_models", "load_model", "model_spec",
                     "register_model"), "zoo.models"),
    **dict.fromkeys(("Classifier", "Normalize"), "zoo.normalize"),
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        if (Path(__file__).parent / f"{name}.py").is_file():  # zoo.checks, before its import
            return importlib.import_module(f"zoo.{name}")
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
