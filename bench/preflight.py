"""Before the first job: load every model a suite names and every image folder it declares,
so a broken factory or an unreadable folder stops the run with one clear error, and record
what the audit card says about each (parameters, input size, weights hash, data, budgets).
A second model a job names (a transfer attack's ``surrogate``) must load and take the images
and give the classes of the job's model. Every job's keys that depend on its model (a layer's
name, class indices, sizes in pixels) are checked by its kind (``Kind.check``) against the
loaded model, so a value that would fail a job fails here, before the first one.
"""

from __future__ import annotations

from typing import Any

from bench.context import RunContext
from bench.kind import get_kind
from bench.schema import ModelName
from bench.spec import Job
from bench.suite import Suite
from bench.threat import standard_eps
from zoo.datasets import DATASETS
from zoo.errors import UserError


class PreflightError(UserError):
    """A model or folder of the suite's own tables that cannot be used: no job is run."""


def preflight(suite: Suite, ctx: RunContext) -> dict[str, Any]:
    """``{"models": {...}, "datasets": {...}}`` for the run's meta.

    Every model the suite names must load, or ``PreflightError``; a torchvision model whose
    weights file is missing runs with random weights (and says so) only where every job of it
    is of a kind that allows that (``Kind.random_weights``: the stress tests). Then each job's
    model-dependent keys are checked against its loaded model (``Kind.check``), and a second
    model a job names must take the same images and give the same classes.
    """
    models: dict[str, Any] = {}
    datasets: dict[str, Any] = {}
    loaded: dict[str, Any] = {}
    for job in suite.jobs:
        name = job.params.get("model")
        if not isinstance(name, str) or name in models:
            continue
        dataset = job.params.get("dataset")
        model = loaded[name] = _load(suite, ctx, name, job.params.get("weights"))
        threat, threat_source = standard_eps(
            dataset or "", model.input_shape, suite.definitions.models.get(name))
        models[name] = {
            "label": model.label, "source": model.source,
            "parameters": sum(p.numel() for p in model.parameters()),
            "input_size": list(model.input_shape), "num_classes": model.num_classes,
            "class_names": ctx.class_names(model), "weights": model.weights,
            "weights_sha256": ctx.weights_sha256(model),
            "random_weights": model.random_weights,
            "outputs_probabilities": model.outputs_probabilities,
            "dataset": dataset, "threat": threat, "threat_source": threat_source, "error": "",
        }
        if dataset and dataset not in datasets:
            datasets[dataset] = _dataset_info(ctx, dataset)
    for job in suite.jobs:
        _check_job(job, ctx, loaded)
        _check_second_models(job, ctx, models)
    return {"models": models, "datasets": datasets}


def _load(suite: Suite, ctx: RunContext, name: str, weights: str | None) -> Any:
    """The model ``name``, or ``PreflightError`` saying why it does not load; random weights
    for a torchvision model without its weights file only when no job of it needs them."""
    needing = [job.label for job in suite.jobs
               if job.params.get("model") == name and not get_kind(job.kind).random_weights]
    where = (f"[models.{name}]" if name in suite.definitions.models
             else f"model {name!r}" + (f" (job {needing[0]})" if needing else ""))
    try:
        if needing:
            return ctx.model(name, weights)
        return ctx.model_or_random(name, weights)
    except Exception as err:
        raise PreflightError(f"{where}: {_message(err)}") from err


def _message(err: BaseException) -> str:
    """The error's own message (a ``KeyError``'s without the quotes ``str`` adds)."""
    return str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)


def _check_job(job: Job, ctx: RunContext, loaded: dict[str, Any]) -> None:
    """``PreflightError`` when a key of the job does not fit its model (``Kind.check``)."""
    kind = get_kind(job.kind)
    model = loaded.get(job.params.get("model"))  # type: ignore[arg-type]
    if kind.check is None or model is None:
        return
    try:
        kind.check(job.params, model, ctx)
    except (ValueError, KeyError) as err:
        raise PreflightError(f"job {job.label}: {_message(err)}") from err


def _check_second_models(job: Job, ctx: RunContext, models: dict[str, Any]) -> None:
    """``PreflightError`` when a model the job names besides its own (a surrogate) does not
    load, or has other classes or another input size than the job's model."""
    name = job.params.get("model")
    params = get_kind(job.kind).params
    for key, value in job.params.items():
        if key == "model" or value is None or key not in params:
            continue
        if not params[key].has(ModelName):
            continue
        try:
            other = ctx.model(value)
        except Exception as err:
            raise PreflightError(f"{key} {value!r} of job {job.label}: {err}") from err
        info = models.get(name)
        if info is None or info.get("error"):
            continue  # the job's own model did not load: its job fails and says why
        mine = (info["num_classes"], tuple(info["input_size"]))
        theirs = (other.num_classes, tuple(other.input_shape))
        if mine != theirs:
            raise PreflightError(
                f"{key} {value!r} of job {job.label} has {theirs[0]} classes and input size "
                f"{theirs[1]}, model {name!r} {mine[0]} and {mine[1]}: they must take the same "
                "images and give the same classes")


def _dataset_info(ctx: RunContext, name: str) -> dict[str, Any]:
    x, y = ctx.dataset(name)
    if name in ctx.data_info:
        return ctx.data_info[name]
    info = DATASETS[name]
    return {"source": info.description, "images": len(x), "classes": info.num_classes,
            "class_names": list(info.class_names), "skipped": [], "per_class": None,
            "labels_csv": "", "notes": []}
