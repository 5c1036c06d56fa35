"""The audit of one model, written out as a suite file: what ``auditbench run --model`` runs.

Every job kind on the one model, with budgets at fractions of the standard eps of its threat
model (``bench.threat``). The text is a complete suite the user can keep, edit and run again
with ``--suite``: the model and its folder are ``[models.*]`` / ``[data.*]`` tables.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import zoo
from bench.definitions import (
    DataDef,
    ModelDef,
    dataset_of,
    parse_definitions,
    toml_suite,
)
from bench.threat import standard_eps
from bench.user_assets import fit_labels, load_defined_model, read_folder
from zoo.errors import UserError
from zoo.image_folder import check_labels_csv

TEMPLATES = Path(__file__).parent / "suites" / "audit"
#: kinds that aim at the model's layers, left out when hooks cannot see them
LAYERED_KINDS = ("representation", "gallery")
#: the quick audit's samples are sized for images of up to this side; above it they shrink
#: with the pixel count (``quick_count``), down to ``MIN_QUICK_IMAGES``
QUICK_SIDE, MIN_QUICK_IMAGES = 64, 8
#: the surrogate of the transfer attack on an MNIST-shaped model (one channel, 28 px, ten
#: classes) when ``--surrogate`` names none: the shipped CNN, trained on MNIST
MNIST_SURROGATE = "mnist_cnn"
#: the kinds that take a surrogate model (robustness: the transfer attack; sanity: the check
#: that transfer is not stronger than the white-box attack)
SURROGATE_KINDS = ("robustness", "sanity")


def audit_tasks(
    model: str, *, side: int, num_classes: int, threat: dict[str, float], quick: bool,
    layered: bool = True, surrogate: str | None = None,
) -> list[dict[str, Any]]:
    """The tasks of an audit of ``model``: ``suites/audit/full.toml`` or ``quick.toml``,
    aimed at the model, its eps values scaled to the standard budgets ``threat``, the image
    sizes set to the model's side.

    ``layered``: whether hooks can find the model's convolutional layers. A TorchScript or
    exported graph hides them, so the views and images aimed at a layer are left out (the
    suite's description says so) and only class models are stress-tested.

    In the quick audit the samples (``n``) follow the side: ``quick_count``.

    ``surrogate``: the model the transfer attack is made on (and the sanity check compares
    with); without one the transfer tasks are left out.
    """
    template = TEMPLATES / ("quick.toml" if quick else "full.toml")
    tasks = []
    for task in tomllib.loads(template.read_text(encoding="utf-8"))["task"]:
        kind = task.pop("kind")
        if not layered and kind in LAYERED_KINDS:
            continue
        task = {"kind": kind, "model": model, **task}
        if task.get("attack") == "transfer" and surrogate is None:
            continue
        if surrogate is not None and kind in SURROGATE_KINDS and (
                kind != "robustness" or task.get("attack") == "transfer"):
            task["surrogate"] = surrogate
        norm = task.pop("eps_scale", None)
        if norm is not None:
            for key in ("eps", "eps_grid"):
                if key in task:
                    task[key] = _scaled(task[key], threat[norm])
        if quick and "n" in task:
            task["n"] = quick_count(task["n"], side)
        if kind == "gallery":
            task.update(classes_shown=min(num_classes, 10), photo_size=side)
        if kind == "stress":
            task["sizes"] = [side]
            if not layered:
                task["method"] = "class_model"  # the others aim at a layer
        tasks.append(task)
    return tasks


def quick_count(n: int, side: int) -> int:
    """A quick audit's sample of ``n`` images (sized for sides up to ``QUICK_SIDE``) for
    images of ``side`` pixels: shrunk with the pixel count, ``ceil(n * (64 / side)^2)``, so
    that a job's pixels stay about the same, but never below ``MIN_QUICK_IMAGES`` (or ``n``
    itself when smaller). At 224 px: 100 images become 9, 32 become 8, 3 stay 3."""
    if side <= QUICK_SIDE:
        return n
    return max(min(n, MIN_QUICK_IMAGES), math.ceil(n * (QUICK_SIDE / side) ** 2))


def _scaled(value: float | list[float], budget: float) -> float | list[float]:
    return [v * budget for v in value] if isinstance(value, list) else value * budget


def audit_suite_text(
    *, name: str, seed: int, model: str, model_table: dict[str, Any],
    data_table: dict[str, Any] | None, tasks: list[dict[str, Any]], command: str,
    layered: bool = True, surrogate: str | None = None,
    surrogate_table: dict[str, Any] | None = None, surrogate_chosen: bool = False,
) -> str:
    """The suite file: a comment saying how it was made, the tables, then the tasks."""
    description = f"Audit of {model}: every job kind on your model."
    if not layered:
        description = (
            f"Audit of {model}. Its layers are hidden from hooks (a TorchScript or exported "
            "graph), so the representation views, the gallery and the layer-aimed generative "
            "methods are left out; Grad-CAM, guided backprop and deconvnet apply only where "
            "their layers are found. Load the model from its Python factory to audit those.")
    if surrogate is None:
        description += (" No surrogate model was given, so the transfer attack is left out "
                        "(auditbench run --surrogate SPEC adds it).")
    else:
        description += f" The transfer attack is made on {surrogate}" + (
            " (the shipped MNIST CNN, for an MNIST-shaped model; --surrogate names another)."
            if surrogate_chosen else ".")
    models = {model: model_table}
    if surrogate is not None and surrogate_table is not None:
        models[surrogate] = surrogate_table
    raw = {"name": name, "description": description, "seed": seed, "models": models,
           "data": {model_table["data"]: data_table} if data_table is not None else {},
           "task": tasks}
    return (f"# Written by: {command}\n"
            "# Edit and run again with: auditbench run --suite THIS_FILE\n\n" + toml_suite(raw))


@dataclass(frozen=True)
class AuditRequest:
    """What ``auditbench run --model ...`` was given."""

    model: str
    weights: str | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    input_size: list[int] | None = None
    class_names: str | None = None
    output: int | str | None = None
    data: str | None = None
    labels_csv: str | None = None
    per_class: int | None = None
    eps_linf: float | None = None
    eps_l2: float | None = None
    surrogate: str | None = None
    quick: bool = False
    seed: int = 0


def named_directly(spec: str) -> bool:
    """A model a suite names without a table: a shipped one or ``tv:<arch>``."""
    return spec in zoo.list_models() or spec.startswith("tv:")


def default_surrogate(input_shape: tuple[int, ...], num_classes: int | None) -> str | None:
    """The transfer attack's surrogate when none is given: ``MNIST_SURROGATE`` for an
    MNIST-shaped model, else none (no shipped model takes the images)."""
    if tuple(input_shape) == (1, 28, 28) and num_classes == 10:
        return MNIST_SURROGATE
    return None


def model_key(spec: str) -> str:
    """A suite name for the model: its factory, after the file's stem for a file
    (``models/net.py:build`` -> ``net_build``, so two factories of one file get two runs),
    ``resnet50`` for ``pkg.models:resnet50``, the stem of an export, ``resnet18`` for
    ``tv:resnet18``; never a shipped model's name."""
    if spec.startswith("tv:"):
        stem = spec[3:]
    elif ":" in spec:
        target, _, factory = spec.rpartition(":")
        stem = f"{Path(target).stem}_{factory}" if target.endswith(".py") else factory
    else:
        stem = Path(spec).stem
    key = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-") or "model"
    key = key if key[0].isalpha() else f"m_{key}"
    return f"{key}_user" if key in zoo.list_models() else key


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _table(definition: ModelDef | DataDef) -> dict[str, Any]:
    """A resolved definition as the table that declares it (absolute paths)."""
    return {k: v for k, v in asdict(definition).items() if k not in ("name", "weights_sha256")}


def write_audit_suite(request: AuditRequest, out_dir: Path, command: str) -> Path:
    """Check the request, load the model once (its input size and classes set the budgets
    and the sizes) and read its folder, and write ``out_dir/audit.toml``; its path. Raises
    ``ValueError``, ``ImportError`` or ``FileNotFoundError`` with the reason before anything
    is written."""
    key = model_key(request.model)
    if request.data is None and (request.labels_csv or request.per_class):
        raise UserError("--labels-csv and --per-class describe --data DIR; give --data")
    input_size: int | list[int] | None = request.input_size
    if request.input_size is not None and len(request.input_size) == 1:
        input_size = request.input_size[0]
    given = {
        "source": request.model, "weights": request.weights, "mean": request.mean,
        "std": request.std, "input_size": input_size, "class_names": request.class_names,
        "output": request.output, "data": "images" if request.data is not None else None,
        "eps_linf": request.eps_linf, "eps_l2": request.eps_l2,
    }
    folder = {"root": request.data, "labels_csv": request.labels_csv,
              "per_class": request.per_class}
    tables = {key: _given(given)}
    surrogate = request.surrogate
    if surrogate is not None and not named_directly(surrogate):
        # a file, module or export: a table of its own, taking the images of the model
        surrogate = f"{model_key(surrogate)}_surrogate"
        tables[surrogate] = _given({"source": request.surrogate, "input_size": input_size,
                                    "data": given["data"]})
    # the same checks and path resolution (against the working directory) as a suite file's
    defs = parse_definitions(
        tables, {"images": _given(folder)} if request.data is not None else {},
        base=Path.cwd(), where="--model", registered=set(zoo.list_models()))
    definition = defs.models[key]
    dataset = dataset_of(key, defs)
    model = load_defined_model(definition)
    if request.data is not None:
        # the folder is read as the run will read it, so that a folder the run would refuse
        # (no readable image, labels that do not fit the model) leaves no suite file behind
        data = defs.data["images"]
        if data.labels_csv is not None:  # class indices in the model's range, by line
            check_labels_csv(data.root, data.labels_csv, model.num_classes)
        folder = read_folder(defs.data["images"], model.input_shape, seed=request.seed)
        fit_labels(folder, model, "images")
    threat, _ = standard_eps(dataset, model.input_shape, definition)
    layered = bool(zoo.feature_layers(model))
    chosen = surrogate is None
    if chosen:
        surrogate = default_surrogate(model.input_shape, model.num_classes)
    tasks = audit_tasks(key, side=model.input_shape[-1], num_classes=model.num_classes,
                        threat=threat, quick=request.quick, layered=layered,
                        surrogate=surrogate)
    data_table = _table(defs.data["images"]) if request.data is not None else None
    surrogate_table = _table(defs.models[surrogate]) if surrogate in defs.models else None
    text = audit_suite_text(name=f"{key}-audit", seed=request.seed, model=key,
                            model_table=_table(definition), data_table=data_table,
                            tasks=tasks, command=command, layered=layered,
                            surrogate=surrogate, surrogate_table=surrogate_table,
                            surrogate_chosen=chosen)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "audit.toml"
    path.write_text(text, encoding="utf-8")
    return path
