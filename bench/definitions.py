"""A user's own models and image folders, declared once in a suite file and named by its tasks.

::

    [models.flowers_net]
    source = "models/net.py:build"       # module:factory, file.py:factory, .pt2, TorchScript,
    weights = "weights/net.pt"           # a registry name or tv:<arch>; weights: a state dict
    mean = [0.485, 0.456, 0.406]         # the model's own input normalisation, wrapped inside
    std = [0.229, 0.224, 0.225]
    input_size = [3, 64, 64]             # or one int side
    class_names = "classes.txt"          # .txt or .json; default: the folder's class names
    output = 0                           # a model returning (logits, features): its logits;
                                         # or a dict key / attribute such as "logits"
    data = "flowers"                     # the [data.*] table it is audited on
    eps_linf = 0.0314                    # optional: the standard budgets of its threat model
    eps_l2 = 0.5

    [data.flowers]
    root = "data/flowers"                # ImageFolder tree, or flat folder + labels_csv
    labels_csv = "labels.csv"
    per_class = 20                       # seeded sample per class (the suite's seed)

Relative paths are relative to the suite file, so the file can live in the user's repository
next to the model. Everything is checked here, before any model is loaded.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import zoo
from zoo.checkpoint import file_sha256
from zoo.datasets import DATASETS as SHIPPED_DATASETS
from zoo.errors import UnknownNameError, UserError
from zoo.outputs import check_output
from zoo.registry import unknown_name
from zoo.user_spec import EXPORTED_SUFFIX, SCRIPT_SUFFIXES, is_user_spec

MODEL_KEYS = ("source", "weights", "mean", "std", "input_size", "class_names", "output",
              "data", "eps_linf", "eps_l2")
DATA_KEYS = ("root", "labels_csv", "per_class")
RANDOM = "random"
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class ModelDef:
    """One ``[models.NAME]`` table, paths resolved."""

    name: str
    source: str
    weights: str | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    input_size: int | tuple[int, int, int] | None = None
    class_names: str | None = None
    data: str | None = None
    eps_linf: float | None = None
    eps_l2: float | None = None
    weights_sha256: str = ""  # of the weights file, so new weights make new job ids
    output: int | str | None = None  # where the logits are in what the network returns

    @property
    def digest(self) -> str:
        """Short hash of the whole definition; part of every job id that uses the model.
        ``output`` enters it only when set, so definitions without it keep their job ids."""
        items = {k: v for k, v in asdict(self).items() if not (k == "output" and v is None)}
        return hashlib.sha256(repr(sorted(items.items())).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class DataDef:
    """One ``[data.NAME]`` table, paths resolved."""

    name: str
    root: str
    labels_csv: str | None = None
    per_class: int | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr(sorted(asdict(self).items())).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Definitions:
    models: dict[str, ModelDef] = field(default_factory=dict)
    data: dict[str, DataDef] = field(default_factory=dict)

    def digest(self, model: str) -> str:
        """The hash that ties a job to its model's (and its data's) definition."""
        definition = self.models[model]
        data = self.data[definition.data].digest if definition.data else ""
        return definition.digest + data

    def users_of(self, data: str) -> list[str]:
        return [m.name for m in self.models.values() if m.data == data]


def parse_definitions(
    models: object, data: object, *, base: Path, where: str, registered: set[str] | None = None
) -> Definitions:
    """The ``models`` and ``data`` tables of a suite -> checked ``Definitions``.

    ``registered``: names that are taken (shipped models); a table may not shadow them.
    Raises ``ValueError`` naming the table and key.
    """
    data_defs = {}
    for key, table in _tables(data, "data", where).items():
        if key in SHIPPED_DATASETS:
            raise UserError(f"{where}: [data.{key}] shadows the shipped dataset {key!r}; "
                             "give yours another name")
        data_defs[key] = _data_def(key, table, base, where)
    model_defs = {}
    for key, table in _tables(models, "models", where).items():
        if registered and key in registered:
            raise UserError(f"{where}: [models.{key}] shadows the shipped model {key!r}; "
                             "give yours another name")
        definition = _model_def(key, table, base, where)
        if definition.data is not None and definition.data not in data_defs:
            raise UserError(f"{where}: [models.{key}] data = {definition.data!r} names no "
                             f"[data.*] table; tables: {', '.join(data_defs) or 'none'}")
        model_defs[key] = definition
    return Definitions(model_defs, data_defs)


def _tables(value: object, kind: str, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise UserError(f"{where}: {kind} must be a table of [{kind}.NAME] tables")
    for key, table in value.items():
        if not _KEY.match(key):
            raise UserError(f"{where}: [{kind}.{key}]: names start with a letter and hold "
                             "letters, digits, '_', '-'")
        if not isinstance(table, dict):
            raise UserError(f"{where}: {kind}.{key} must be a table")
    return value


def _unknown(table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise UnknownNameError(f"{where}: {unknown_name('key', unknown[0], list(allowed))}")


def _path(value: object, key: str, base: Path, where: str, *, must_exist: bool) -> str:
    if not isinstance(value, str) or not value:
        raise UserError(f"{where}: {key} must be a non-empty path string, got {value!r}")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if must_exist and not path.exists():
        raise UserError(f"{where}: {key} not found: {path}")
    return str(path.resolve())


def _source(value: object, base: Path, where: str) -> str:
    """Resolve the file part of a source relative to the suite; module paths stay as given."""
    if not isinstance(value, str) or not value:
        raise UserError(f"{where}: source must be a non-empty string, got {value!r}")
    target, sep, attr = value.rpartition(":")
    if sep and not value.startswith("tv:") and target.endswith(".py"):
        return f"{_path(target, 'source', base, where, must_exist=True)}:{attr}"
    if Path(value).suffix in (EXPORTED_SUFFIX, *SCRIPT_SUFFIXES):
        return _path(value, "source", base, where, must_exist=True)
    return value


def _is_named_architecture(source: object) -> bool:
    """``tv:<arch>`` or a shipped model's name: a source that has no weights of its own."""
    return isinstance(source, str) and (source.startswith("tv:") or not is_user_spec(source))


def _floats(value: object, key: str, where: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or not value
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)):
        raise UserError(f"{where}: {key} must be a list of numbers, one per channel")
    return tuple(float(v) for v in value)


def _input_size(value: object, where: str) -> int | tuple[int, int, int] | None:
    def ok(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    if value is None or ok(value):
        return value  # type: ignore[return-value]
    if isinstance(value, list) and len(value) == 3 and all(ok(v) for v in value):
        return (value[0], value[1], value[2])
    raise UserError(f"{where}: input_size must be a positive int side or [C, H, W], "
                     f"got {value!r}")


def _output(value: object, source: object, where: str) -> int | str | None:
    """An index (int) or a key/attribute name (str); only for the user's own models."""
    if value is None:
        return None
    try:
        output = check_output(value)
    except ValueError as err:
        raise UserError(f"{where}: {err}") from None
    if _is_named_architecture(source):
        raise UserError(f"{where}: output is for your own models; {source!r} returns its "
                         "logits")
    return output


def _eps(value: object, key: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise UserError(f"{where}: {key} must be a positive number, got {value!r}")
    return float(value)


def _model_def(key: str, table: dict[str, Any], base: Path, where: str) -> ModelDef:
    where = f"{where}, [models.{key}]"
    _unknown(table, MODEL_KEYS, where)
    if "source" not in table:
        raise UserError(f"{where}: missing required key 'source'")
    weights = table.get("weights")
    if weights == RANDOM:  # an untrained shipped or torchvision architecture, labelled so
        if not _is_named_architecture(table.get("source")):
            raise UserError(f"{where}: weights = \"random\" is for tv:<arch> and shipped "
                             "models; a factory builds its own initial weights")
    elif weights is not None:
        weights = _path(weights, "weights", base, where, must_exist=True)
    names = table.get("class_names")
    if names is not None:
        names = _path(names, "class_names", base, where, must_exist=True)
    data = table.get("data")
    if data is not None and not isinstance(data, str):
        raise UserError(f"{where}: data must name a [data.*] table, got {data!r}")
    return ModelDef(
        name=key, source=_source(table["source"], base, where), weights=weights,
        mean=_floats(table.get("mean"), "mean", where),
        std=_floats(table.get("std"), "std", where),
        input_size=_input_size(table.get("input_size"), where), class_names=names, data=data,
        eps_linf=_eps(table.get("eps_linf"), "eps_linf", where),
        eps_l2=_eps(table.get("eps_l2"), "eps_l2", where),
        weights_sha256=file_sha256(Path(weights))[:12] if weights not in (None, RANDOM) else "",
        output=_output(table.get("output"), table["source"], where),
    )


def _data_def(key: str, table: dict[str, Any], base: Path, where: str) -> DataDef:
    where = f"{where}, [data.{key}]"
    _unknown(table, DATA_KEYS, where)
    if "root" not in table:
        raise UserError(f"{where}: missing required key 'root'")
    root = _path(table["root"], "root", base, where, must_exist=True)
    if not Path(root).is_dir():
        raise UserError(f"{where}: root is not a folder: {root}")
    labels = table.get("labels_csv")
    if labels is not None:
        labels = _path(labels, "labels_csv", base, where, must_exist=True)
    per_class = table.get("per_class")
    if per_class is not None and (isinstance(per_class, bool) or not isinstance(per_class, int)
                                  or per_class < 1):
        raise UserError(f"{where}: per_class must be a positive integer, got {per_class!r}")
    return DataDef(name=key, root=root, labels_csv=labels, per_class=per_class)


def dataset_of(model: str, defs: Definitions | None = None) -> str:
    """The dataset a model is audited on: its ``[data.*]`` table when the suite declares it,
    else its training data, or photos for torchvision. Raises for a model no suite can name."""
    if not isinstance(model, str):
        raise UserError(f"model must be a string, got {model!r}")
    if defs is not None and model in defs.models:
        definition = defs.models[model]
        if definition.data is not None:
            return definition.data
        if definition.source.startswith("tv:") or definition.source in zoo.list_models():
            return dataset_of(definition.source)
        raise UserError(f"model {model!r} needs images: give it data = \"NAME\" and a "
                         "[data.NAME] table (an image folder)")
    if model not in zoo.list_models() and is_user_spec(model):
        raise UserError(f"model {model!r} is your own: declare it in a [models.NAME] table "
                         "(source, data, ...) and name NAME in the task")
    if model.startswith("tv:"):
        import torchvision.models as tvm

        arch = model[3:]
        if arch not in tvm.list_models(module=tvm):
            close = difflib.get_close_matches(arch, tvm.list_models(module=tvm), n=1)
            hint = f" (did you mean 'tv:{close[0]}'?)" if close else ""
            raise UnknownNameError(f"unknown torchvision classifier {arch!r} (model {model!r})"
                                   f"{hint}; torchvision.models.list_models() names them")
        return "photos"
    return zoo.model_spec(model).dataset


# --- writing them back: the CLI turns its flags into a suite file the user can keep ----------


def toml_value(value: object) -> str:
    """A TOML literal for the plain values a suite holds (str, bool, int, float, lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UserError(f"TOML suites hold finite numbers only, got {value}")
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_table(header: str, values: dict[str, Any]) -> str:
    lines = [header] + [f"{k} = {toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def toml_suite(raw: dict[str, Any]) -> str:
    """A suite's structure (what ``bench.suite.parse_suite`` takes) as the TOML text that
    reads back to it: the top-level keys, ``[models.*]`` and ``[data.*]`` tables, tasks."""
    top = [f"{k} = {toml_value(raw[k])}" for k in ("name", "description", "seed") if k in raw]
    parts = ["\n".join(top) + "\n"] if top else []
    for kind in ("models", "data"):
        parts += [toml_table(f"[{kind}.{name}]", table)
                  for name, table in (raw.get(kind) or {}).items()]
    parts += [toml_table("[[task]]", task) for task in raw.get("task", [])]
    return "\n".join(parts)
