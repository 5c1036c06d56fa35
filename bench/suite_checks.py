"""The value checks of suite parameters: one function per key, ``(value, key, is_grid) ->``
the normalised value or a ``ValueError``/``KeyError``; and ``dataset_of``, which data a model
is audited on. ``bench.suite`` runs them on every expanded job before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zoo
from attacks import get_attack
from bench.definitions import Definitions
from generative import get_method as get_generative
from zoo.checks import check_eps_grid, check_nonnegative
from zoo.user_spec import is_user_spec

NORMS = ("linf", "l2")


def dataset_of(model: str, defs: Definitions | None = None) -> str:
    """The dataset a model is audited on: its ``[data.*]`` table when the suite declares it,
    else its training data, or photos for torchvision."""
    if not isinstance(model, str):
        raise ValueError(f"model must be a string, got {model!r}")
    if defs is not None and model in defs.models:
        definition = defs.models[model]
        if definition.data is not None:
            return definition.data
        if definition.source.startswith("tv:") or definition.source in zoo.list_models():
            return dataset_of(definition.source)
        raise ValueError(f"model {model!r} needs images: give it data = \"NAME\" and a "
                         "[data.NAME] table (an image folder)")
    if model not in zoo.list_models() and is_user_spec(model):
        raise ValueError(f"model {model!r} is your own: declare it in a [models.NAME] table "
                         "(source, data, ...) and name NAME in the task")
    if model.startswith("tv:"):
        import torchvision.models as tvm

        arch = model[3:]
        if arch not in tvm.list_models(module=tvm):
            raise KeyError(f"unknown torchvision classifier {arch!r} (model {model!r})")
        return "photos"
    return zoo.model_spec(model).dataset


# --- value checks: (value, key, is_grid) -> normalised value, or ValueError/KeyError ------

def _check_model(value: object, key: str, grid: bool) -> str:
    dataset_of(value)
    return str(value)


def _check_attack(value: object, key: str, grid: bool) -> str:
    return get_attack(value).name  # type: ignore[arg-type]


def check_dataset(value: object, key: str, grid: bool) -> str:
    if value not in zoo.DATASETS:
        raise KeyError(f"unknown dataset {value!r}; datasets: {', '.join(zoo.list_datasets())}")
    return str(value)


def _check_norm(value: object, key: str, grid: bool) -> str:
    if value not in NORMS:
        raise ValueError(f"{key} must be one of {', '.join(NORMS)}; got {value!r}")
    return str(value)


def _check_eps(value: object, key: str, grid: bool) -> float | list[float]:
    if grid:
        return check_eps_grid(value, key)
    return check_nonnegative(value, key)


def _check_positive_int(value: object, key: str, grid: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be a positive integer, got {value!r}")
    return value


def _check_int(value: object, key: str, grid: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return value


def _check_int_list(value: object, key: str, grid: bool) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{key} must be a non-empty list of integers, got {value!r}")
    return [_check_int(v, f"{key}[{i}]", False) for i, v in enumerate(value)]


def _check_positive_int_list(value: object, key: str, grid: bool) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{key} must be a non-empty list of positive integers, got {value!r}")
    return [_check_positive_int(v, f"{key}[{i}]", False) for i, v in enumerate(value)]


def _check_bool(value: object, key: str, grid: bool) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value


def _check_str(value: object, key: str, grid: bool) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _check_loss(value: object, key: str, grid: bool) -> str:
    if value not in ("ce", "dlr"):
        raise ValueError(f"{key} must be 'ce' or 'dlr', got {value!r}")
    return str(value)


def _check_real(value: object, key: str, grid: bool) -> float:
    return check_nonnegative(value, key)


def _check_methods(value: object, key: str, grid: bool) -> str | list[str]:
    from attribution import get_method

    if value == "auto":  # every registered method that applies to the model
        return value
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise ValueError(f"{key} must name at least one attribution method, got {value!r}")
    return [get_method(name).name for name in names]


def _check_generative(value: object, key: str, grid: bool) -> str:
    return get_generative(value).name  # type: ignore[arg-type]


def _check_parts(value: object, key: str, grid: bool) -> list[str]:
    from bench.jobs.gallery import PARTS

    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or any(v not in PARTS for v in names):
        raise ValueError(f"{key} must be a non-empty list of {', '.join(PARTS)}; got {value!r}")
    return list(names)


CHECKS: dict[str, Callable[[object, str, bool], Any]] = {
    "model": _check_model,
    "attack": _check_attack,
    "dataset": check_dataset,
    "norm": _check_norm,
    "eps": _check_eps,
    "eps_grid": lambda v, k, g: check_eps_grid(v, k),
    "alpha": _check_real,
    "rel_alpha": _check_real,
    "n": _check_positive_int,
    "steps": _check_positive_int,
    "restarts": _check_positive_int,
    "batch_size": _check_positive_int,
    "seed": _check_int,
    "dims": _check_positive_int_list,
    "classes": _check_int_list,
    "loss": _check_loss,
    "weights": _check_str,
    "random_start": _check_bool,
    "reuse": _check_bool,
    "methods": _check_methods,
    "window": _check_positive_int,
    "stride": _check_positive_int,
    "samples": _check_positive_int,
    "sigma": _check_real,
    "ig_steps": _check_positive_int,
    "layer": _check_str,
    "curve_steps": _check_positive_int,
    "threshold": _check_real,
    "fragility_eps": _check_real,
    "perplexity": _check_real,
    "method": _check_generative,
    "sizes": _check_positive_int_list,
    "steps_grid": _check_positive_int_list,
    "parts": _check_parts,
    "classes_shown": _check_positive_int,
    "inversion_steps": _check_positive_int,
    "dream_steps": _check_positive_int,
    "style_steps": _check_positive_int,
    "photo_size": _check_positive_int,
}
