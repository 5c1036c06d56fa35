"""Suite keys, their checks, job configs and call arguments, all read off signatures.

A task of kind ``k`` may give:

- the keyword-only parameters of ``k``'s run function (``bench.kind``), checked by their
  annotations (``zoo.params``) and by the markers below: ``Model`` and ``Dataset`` name a model
  or a dataset (shipped, or a table of the suite), ``Names(registry)`` names methods;
- the settings of the methods it names (``zoo.methods.Method.suite_keys``): an attack's
  ``steps`` or ``rel_alpha``, occlusion's ``window`` or ``rel_window``... A job keeps the
  settings its own method takes, so an FGSM job's config (and id) does not change with a
  task's ``steps``;
- the settings of the library function the kind ``calls`` (the fooling grid's step, say),
  those of its keyword-only parameters the kind does not take itself.

A job's config holds what the task gave, the kind's parameters that have a default other than
``None``, and the suite defaults of the methods it may run (not one whose other form the task
gave: a task's ``window`` keeps the ``rel_window`` default out); signature defaults a suite did
not set stay out, so a new parameter with a default changes no existing job id. A relative
setting stays relative in the config; it is resolved for each call (``Method.kwargs``), at the
budget (``eps``) or at the side of the model's images (``side``).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

import pandas as pd

import zoo
from bench.definitions import Definitions, dataset_of
from bench.kind import Kind
from bench.store import CORE, PROVENANCE
from zoo.errors import UnknownNameError, UserError
from zoo.methods import Method
from zoo.params import REQUIRED, LayerName, Param, split_annotated
from zoo.registry import Registry, unknown_name

#: the key under which a job records the hash of its model's ``[models.*]`` table
DEFINITION = "definition"
AUTO = "auto"  # a method list that means: every registered method that applies to the model


@dataclass(frozen=True)
class ModelName:
    """The string names a model: shipped, ``tv:<arch>``, or a ``[models.NAME]`` table."""


@dataclass(frozen=True)
class DatasetName:
    """The string names a dataset: shipped, or a ``[data.NAME]`` table."""


@dataclass(frozen=True)
class Names:
    """The value names methods of ``registry`` (one, a list, or ``"auto"`` for every one that
    applies). With ``settings``, the named methods' settings are suite keys of the task;
    ``pick`` looks a name up (and may refuse it, with the reason) instead of
    ``registry.get``."""

    registry: Registry[Any]
    settings: bool = True
    pick: Callable[[str], Method] | None = None

    def entry(self, name: object) -> Method:
        return (self.pick or self.registry.get)(name)  # type: ignore[arg-type]


Model = Annotated[str, ModelName()]
Dataset = Annotated[str, DatasetName()]


def marker(param: Param, kind: type) -> Any:
    return next((m for m in param.markers if isinstance(m, kind)), None)


def names_param(kind: Kind) -> tuple[str, Names] | None:
    """The kind's parameter that names methods, and its marker; ``None`` when it has none."""
    for key, param in kind.params.items():
        found = marker(param, Names)
        if found is not None:
            return key, found
    return None


# --- which methods a job runs, and their settings ------------------------------------------------

def named_methods(kind: Kind, config: Mapping[str, Any]) -> list[Method]:
    """The methods a job runs: the function its kind calls, or the method(s) it names (for
    ``"auto"``, every registered one)."""
    if kind.calls is not None:
        return [kind.calls]
    found = names_param(kind)
    if found is None:
        return []
    key, names = found
    value = config[key]
    if value == AUTO:
        return list(names.registry)
    return [names.entry(v) for v in (value if isinstance(value, list) else [value])]


def candidate_methods(kind: Kind) -> list[Method]:
    """Every method whose settings a task of ``kind`` may give."""
    if kind.calls is not None:
        return [kind.calls]
    found = names_param(kind)
    return list(found[1].registry) if found is not None and found[1].settings else []


def passes_settings(kind: Kind) -> bool:
    return bool(kind.calls is not None or ((found := names_param(kind)) and found[1].settings))


def settings_keys(kind: Kind, methods: Iterable[Method] | None = None) -> dict[str, list[Method]]:
    """Suite key -> the methods that take it (every candidate method by default)."""
    if not passes_settings(kind):
        return {}
    keys: dict[str, list[Method]] = {}
    for method in candidate_methods(kind) if methods is None else methods:
        for key in method.suite_keys():
            keys.setdefault(key, []).append(method)
    return keys


def suite_defaults(methods: Iterable[Method]) -> dict[str, Any]:
    """The suite defaults of ``methods``, by suite key (recorded in job configs)."""
    out = {}
    for method in methods:
        for name, value in method.suite_defaults.items():
            out[method.aliases.get(name, name)] = value
    return out


def allowed_keys(kind: Kind) -> set[str]:
    return set(kind.params) | set(settings_keys(kind)) - {DEFINITION}


def recorded_defaults(kind: Kind) -> dict[str, Any]:
    """The kind's parameters whose default enters every job config (all but ``None``)."""
    return {k: p.default for k, p in kind.params.items()
            if p.default is not REQUIRED and p.default is not None}


def required_keys(kind: Kind) -> list[str]:
    """Parameters a task must give (``dataset`` and ``seed`` are filled in by the suite)."""
    return [k for k, p in kind.params.items()
            if p.required and k not in ("dataset", "seed")]


# --- checking one expanded job config -----------------------------------------------------------

def check_config(kind: Kind, config: dict[str, Any], defs: Definitions) -> dict[str, Any]:
    """Check every value of one expanded job config against the kind's parameters and the
    suite's tables; returns it normalised. Method settings are checked by ``fit``."""
    model = config.get("model")
    defined = isinstance(model, str) and model in defs.models
    if defined:
        # the job id carries the definition, so editing the model's table re-runs its jobs
        config[DEFINITION] = defs.digest(model)
        if config.get("weights") is not None:
            raise UserError(f"model {model!r} is declared in [models.{model}]; give its "
                             "weights there, not in the task")
    for key, value in list(config.items()):
        if (key != "model" and key in kind.params and kind.params[key].has(ModelName)
                and isinstance(value, str) and value in defs.models):
            # a second model (a surrogate) declared in a table: its definition too
            config[DEFINITION] = config.get(DEFINITION, "") + second_digest(key, value, defs)
    if kind.uses_data and "model" in config:
        expected = dataset_of(config["model"], defs)
        given = config.setdefault("dataset", expected)
        if given not in defs.data:
            check_dataset(given)
        if given != expected:
            raise UserError(f"model {config['model']!r} is audited on {expected!r}, not {given!r}")
    out = {}
    for key, value in config.items():
        if key == DEFINITION or (defined and key in ("model", "dataset")):
            out[key] = value  # checked above against the suite's own tables
        elif key in kind.params:
            out[key] = check_param(kind.params[key], value, key, defs)
        else:
            out[key] = value  # a method setting: ``fit`` checks it
    return out


def second_digest(key: str, model: str, defs: Definitions) -> str:
    """The piece of a job's ``DEFINITION`` that ties it to a second model's table."""
    return f"+{key}:{defs.digest(model)}"


def check_param(param: Param, value: object, key: str, defs: Definitions) -> Any:
    if param.has(ModelName):  # also ``Model | None``: a model the suite can audit
        if value is not None:
            dataset_of(param.check(value, key), defs)
        return value
    if marker(param, DatasetName) is not None:
        return value if value in defs.data else check_dataset(param.check(value, key))
    names = marker(param, Names)
    if names is not None and isinstance(value, str) and value != AUTO and _takes_list(param):
        value = [value]  # one method named where a list may be
    value = param.check(value, key)
    if names is not None and value != AUTO:
        if isinstance(value, list):
            return [names.entry(v).name for v in value]
        return names.entry(value).name
    return value


def _takes_list(param: Param) -> bool:
    base, _ = split_annotated(param.annotation)
    members = get_args(base) if get_origin(base) in (Union, types.UnionType) else (base,)
    return any(get_origin(split_annotated(m)[0]) is list for m in members)


def check_dataset(value: object) -> str:
    if value not in zoo.DATASETS:
        raise UnknownNameError(unknown_name("dataset", value, zoo.list_datasets()))
    return str(value)


def fit(kind: Kind, config: dict[str, Any]) -> dict[str, Any] | None:
    """The job config with only the settings its methods take, each checked, and their
    suite defaults added; ``None`` for a job its method does not apply to (an attack paired
    with a norm it lacks). ``ValueError`` naming the key for a bad or missing setting."""
    methods = named_methods(kind, config)
    if not all(method.fits(config) for method in methods):
        return None
    if not passes_settings(kind):
        return config
    taken = settings_keys(kind, methods)
    out = {k: v for k, v in config.items() if k in kind.params or k == DEFINITION or k in taken}
    given = set(out)
    for k, v in suite_defaults(methods).items():
        # a default in one form stays out when the task gives the other (``window`` given:
        # no ``rel_window``)
        if k not in given and not any(f in given for m in methods for f in m.forms(k)):
            out[k] = v
    for method in methods:
        mine = {k: out[k] for k in method.suite_keys() if k in out}
        # every required setting is there, but a layer: the kind picks one by default; of
        # several methods, each takes what it needs of the task's and the defaults
        supplied = [name for name, p in method.settings.items()
                    if len(methods) > 1 or p.has(LayerName)]
        out.update(method.check_settings(mine, supplied=supplied))
    return out


def run_args(kind: Kind, config: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``kind.run`` for a job config (its model's table hash is
    for the job id only)."""
    return {k: v for k, v in config.items() if k != DEFINITION}


def setting_columns(kind: Kind, rows: pd.DataFrame, row_keys: Iterable[str] = ()) -> list[str]:
    """The columns of a kind's stored rows that hold its methods' settings (``steps``,
    ``rel_alpha``, a new attack's ``momentum``...): neither a store column, nor one of the
    kind's own parameters, nor one of the ``row_keys`` its rows carry; in column order."""
    fixed = {*CORE, *PROVENANCE, *kind.params, *row_keys, DEFINITION}
    return [c for c in rows.columns if c not in fixed and rows[c].notna().any()]
