"""Suites: TOML files in ``bench/suites/`` that expand into jobs, checked before anything runs.

A suite file holds a top-level ``name``, ``description`` and ``seed``, and ``[[task]]`` tables.
Each task names a job ``kind`` and its parameters; list-valued ``model``/``attack``/``norm``
expand as a cartesian product, while grids such as ``eps`` stay inside one job::

    name = "quick"
    seed = 0

    [[task]]
    kind = "robustness"
    model = ["mnist_logreg", "mnist_cnn"]
    attack = ["fgsm", "pgd"]
    eps = [0.0, 0.1, 0.2]
    n = 64
    steps = 5
    rel_alpha = 0.25

Your own models and image folders are declared in ``[models.NAME]`` and ``[data.NAME]``
tables (``bench.definitions``) and named by tasks like shipped models.

Which keys a task may give, and how each is checked, is read off the kind's run function and
the methods it names (``bench.schema``). Unknown keys, kinds, models, attacks and datasets
raise ``SuiteError`` naming the file and the task, so a typo costs a second rather than a run.
A suite can also be given as the same structure in a dict (``parse_suite``).
"""

from __future__ import annotations

import itertools
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench.kinds  # noqa: F401  (registers the built-in job kinds)
import zoo
from bench import schema
from bench.definitions import RANDOM, Definitions, parse_definitions
from bench.kind import Kind, get_kind, list_kinds
from bench.spec import Job
from zoo.errors import UserError
from zoo.registry import unknown_name

log = logging.getLogger(__name__)

SUITES_DIR = Path(__file__).parent / "suites"
TOP_KEYS = ("name", "description", "seed", "models", "data", "task")


class SuiteError(UserError):
    """A suite file that cannot be run as written."""


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    seed: int
    path: Path
    source: str  # the TOML text, kept in the store so a run records what it ran
    jobs: tuple[Job, ...]
    definitions: Definitions = field(default_factory=Definitions)

    @property
    def slug(self) -> str:
        return slugify(self.name)


def slugify(name: str) -> str:
    """A run name made safe for a directory: ``runs/<slug>/``."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return slug or "suite"


def list_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def suite_path(name_or_path: str | Path) -> Path:
    """A shipped suite by name (``quick``), or a path to any TOML file."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise SuiteError(f"suite file not found: {path}")
        return path
    path = SUITES_DIR / f"{text}.toml"
    if not path.is_file():
        raise SuiteError(f"unknown suite {text!r}; shipped suites: {', '.join(list_suites())}")
    return path


def load_suite(name_or_path: str | Path) -> Suite:
    """Read, check and expand a suite. Raises ``SuiteError`` before any work is done."""
    path = suite_path(name_or_path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise SuiteError(f"cannot read suite {path}: {reason}") from None
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as err:
        raise SuiteError(f"{path.name}: not valid TOML: {err}") from None
    return parse_suite(raw, path=path, source=source)


def parse_suite(raw: Mapping[str, Any], *, path: Path, source: str = "") -> Suite:
    """A suite from its parsed TOML (or the same structure built in Python); ``path`` names it
    in errors and is where relative paths start."""
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise SuiteError(
            f"{path.name}: {unknown_name('top-level key', unknown[0], list(TOP_KEYS))}")
    name = raw.get("name", path.stem)
    description = raw.get("description", "")
    seed = raw.get("seed", 0)
    if not isinstance(name, str) or not name.strip():
        raise SuiteError(f"{path.name}: name must be a non-empty string, got {name!r}")
    if not isinstance(description, str):
        raise SuiteError(f"{path.name}: description must be a string")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SuiteError(f"{path.name}: seed must be an integer, got {seed!r}")
    tasks = raw.get("task", [])
    if not isinstance(tasks, list) or not tasks:
        raise SuiteError(f"{path.name}: a suite needs at least one [[task]] table")
    try:
        defs = parse_definitions(raw.get("models", {}), raw.get("data", {}),
                                 base=path.parent, where=path.name,
                                 registered=set(zoo.list_models()))
    except (ValueError, OSError) as err:
        raise SuiteError(str(err)) from None

    jobs: dict[str, Job] = {}
    for index, task in enumerate(tasks, start=1):
        where = f"{path.name}, task {index}"
        for job in expand_task(task, seed=seed, where=where, defs=defs):
            if job.id in jobs:
                log.warning("%s: job %s (%s) repeats an earlier task; run once", where, job.id,
                            job.label)
                continue
            jobs[job.id] = job
    return Suite(name, description, seed, path, source, tuple(jobs.values()), defs)


def expand_task(
    task: object, *, seed: int, where: str, defs: Definitions | None = None
) -> list[Job]:
    """One ``[[task]]`` table -> its jobs, every value checked."""
    if not isinstance(task, dict):
        raise SuiteError(f"{where}: a task must be a table")
    kind_name = task.get("kind")
    try:
        kind = get_kind(kind_name)
    except KeyError:
        raise SuiteError(f"{where}: {unknown_name('job kind', kind_name, list_kinds())}"
                         ) from None
    where = f"{where} ({kind.name})"
    given = {k: v for k, v in task.items() if k != "kind"}
    allowed = schema.allowed_keys(kind)
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise SuiteError(f"{where}: {unknown_name('key', unknown[0], sorted(allowed))}")
    params = {**schema.recorded_defaults(kind), **given}
    if kind.uses_data:
        params.setdefault("seed", seed)
    missing = [k for k in schema.required_keys(kind) if k not in params]
    if missing:
        raise SuiteError(f"{where}: missing required key {missing[0]!r}")
    defs = defs or Definitions()
    jobs = [_seeded_weights(job, kind, seed, defs) for job in _expand(kind, params, where, defs)]
    handed = handed_over(kind)
    unused = sorted(set(given) - (set(kind.params) - set(handed))
                    - {k for job in jobs for k in job.params})
    if unused and unused[0] in handed:
        raise SuiteError(f"{where}: {unused[0]!r} goes to none of the methods this task runs "
                         f"(it is for {', '.join(handed[unused[0]])})")
    if unused:
        raise SuiteError(f"{where}: {unused[0]!r} is a setting of none of the methods this "
                         "task runs")
    return jobs


def _seeded_weights(job: Job, kind: Kind, seed: int, defs: Definitions) -> Job:
    """``job`` with the suite's seed in its id where one of its models may run on random
    weights: those are drawn from the suite's seed (and the model's name), so a run resumed
    under another seed must not reuse them. Seed 0 adds nothing, so the ids of suites that
    keep the default stay as they were."""
    if seed == 0:
        return job
    models = [v for k, v in job.params.items() if k in kind.params and
              kind.params[k].has(schema.ModelName) and isinstance(v, str)]
    random = [m for m in models if (m in defs.models and defs.models[m].weights == RANDOM)
              or (kind.random_weights and m.startswith("tv:") and m not in defs.models)]
    if not random and job.params.get("weights") != RANDOM:
        return job
    params = dict(job.params)
    params[schema.DEFINITION] = params.get(schema.DEFINITION, "") + f"+weights_seed:{seed}"
    return Job(job.kind, params)


def handed_over(kind: Kind) -> dict[str, list[str]]:
    """The kind's optional parameters it hands to the methods that take them as a protocol
    keyword (robustness's ``surrogate``, the model a transfer attack is made on), each with
    those methods' names."""
    found = schema.names_param(kind)
    if found is None:
        return {}
    out: dict[str, list[str]] = {}
    for key, param in kind.params.items():
        if param.default is None:
            takers = [m.name for m in found[1].registry if key in m.protocol]
            if takers:
                out[key] = takers
    return out


def _hand_over(kind: Kind, config: dict[str, Any], defs: Definitions) -> dict[str, Any]:
    """The job config with each handed-over parameter (``handed_over``) kept where one of its
    methods takes it and dropped elsewhere (with its table's piece of the definition, so a
    job that does not use it keeps its id); ``ValueError`` when a method needs one the task
    does not give."""
    methods = schema.named_methods(kind, config)
    out = dict(config)
    for key in handed_over(kind):
        takers = [m for m in methods if m.takes(key)]
        value = out.get(key)
        if value is None:
            out.pop(key, None)
            needy = [m.name for m in takers if m.params[key].required]
            if needy:
                raise ValueError(f"{needy[0]} needs {key!r}: give it in the task")
            continue
        if not takers:
            out.pop(key)
            if isinstance(value, str) and value in defs.models:
                rest = out.pop(schema.DEFINITION, "").replace(
                    schema.second_digest(key, value, defs), "")
                if rest:
                    out[schema.DEFINITION] = rest
    # a surrogate may have been trained on other data: what matters is that it takes the
    # same images and gives the same classes, which preflight checks on the loaded models
    return out


def _expand(kind: Kind, params: dict[str, Any], where: str, defs: Definitions) -> list[Job]:
    """The cartesian product of the expand keys' lists, each combination checked and fitted
    to its methods."""
    expand_keys = [k for k in kind.expand if k in params]
    axes = [_as_list(params.pop(k), k, where) for k in expand_keys]
    jobs = []
    for combo in itertools.product(*axes):
        config = dict(params, **dict(zip(expand_keys, combo, strict=True)))
        try:
            fitted = schema.fit(kind, schema.check_config(kind, config, defs))
            if fitted is not None:
                fitted = _hand_over(kind, fitted, defs)
        except (ValueError, KeyError) as err:
            message = err.args[0] if err.args else str(err)
            raise SuiteError(f"{where}: {message}") from None
        if fitted is not None:
            jobs.append(Job(kind.name, fitted))
    if not jobs:
        raise SuiteError(f"{where}: no job applies (check the attack/norm combinations)")
    return jobs


def _as_list(value: object, key: str, where: str) -> list[Any]:
    if isinstance(value, list):
        if not value:
            raise SuiteError(f"{where}: {key} is an empty list")
        return value
    return [value]
