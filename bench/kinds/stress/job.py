"""Generative methods as stress tests: for each image size and step count, what a run costs
(seconds per step, peak memory, forward+backward passes) and whether it stayed healthy (every
value finite, the objective improved, the same seed gave the same image)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import numpy as np
import torch

import generative.registry
import zoo
from bench.context import RunContext
from bench.kinds.attribution_calls import LEFT_OUT
from bench.kinds.generative_calls import run_method
from bench.memory import PeakMemory, peak_memory
from bench.schema import Dataset, Model, Names
from bench.spec import JobOutput
from generative import GenResult
from zoo.layers import accepts_size, layers_for
from zoo.params import PositiveInt

REPEATS = 2  # the second run of each setting checks that the same seed gives the same image
MB = 2**20
ARTIFACT = "stress"  # the loss trace of each setting's first run, and their labels

# metrics, one row per repeat of a setting (``repeat`` 0 and 1) ...
SECONDS = "seconds"
SECONDS_PER_STEP = "seconds_per_step"
EVALUATIONS_PER_STEP = "evaluations_per_step"  # forward+backward passes
PEAK_MEMORY_MB = "peak_memory_mb"  # above where the run started; see ``memory_source``
FINITE = "finite"
IMPROVED = "improved"
INITIAL_LOSS = "initial_loss"
FINAL_LOSS = "final_loss"
FAILED_STEP = "failed_step"  # only when a value went NaN or infinite
# ... and one per setting
DETERMINISTIC = "deterministic"
# a method or size the job left out: metric ``LEFT_OUT`` (value 1), why in ``reason`` (with
# ``size`` when only that size is)


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt = 2,
    seed: int,
    method: Annotated[str, Names(generative.registry.METHODS, settings=False)],
    sizes: Sequence[PositiveInt],
    steps_grid: Sequence[PositiveInt] = (5,),
) -> JobOutput:
    """Every size x step count, ``REPEATS`` times each, from ``n`` starting images (photos
    for colour models, else the dataset's own). A method aimed at a layer is left out, with
    the reason, for a model whose layers it cannot read (TorchScript), and a size the model
    does not run at (a Vision Transformer built for one size) is left out likewise."""
    net = ctx.model_or_random(model, weights)
    name = generative.registry.METHODS.get(method).name
    base = {"model_label": net.label, "method": name,
            "parameters": sum(t.numel() for t in net.parameters()),
            "depth": sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
                         for m in net.modules())}
    rows: list[dict[str, Any]] = []
    traces, labels = [], []
    reason = _refusal(name, net)
    if reason is not None:
        rows.append({**base, "metric": LEFT_OUT, "value": 1.0, "reason": reason})
        sizes = []
    for size in sizes:
        if not accepts_size(net, net.input_shape[0], size):
            rows.append({**base, "size": size, "metric": LEFT_OUT, "value": 1.0,
                         "reason": f"the model does not run at {size} x {size} px"})
            continue
        images = ctx.images_at(net, size, n, dataset)
        for steps in steps_grid:
            setting_rows, trace = _setting(ctx, net, images, {**base, "size": size,
                                                               "steps": steps}, seed)
            rows += setting_rows
            traces.append(trace)
            labels.append(f"{size}px, {steps} steps")
    art = {"losses": _padded(traces), "labels": np.array(labels, dtype=str),
           "model_label": np.array([net.label], dtype=str)}
    return JobOutput(rows, {ARTIFACT: art})


def _refusal(method: str, net: zoo.Classifier) -> str | None:
    """Why ``method`` cannot run on ``net`` (a method aimed at a layer, on a model without
    layers that hooks can read), or ``None``."""
    if generative.registry.METHODS.get(method).inputs == "class":
        return None
    try:
        layers_for(net)
    except ValueError as err:
        return str(err)
    return None


def check(params: Mapping[str, Any], model: zoo.Classifier, ctx: RunContext) -> None:
    """``Kind.check``: the model runs at one of ``sizes`` at least (a size it does not run at
    is left out with the reason, but a job with none would measure nothing); probes the
    sizes in order until one runs, as the job would."""
    sizes = list(params.get("sizes") or [])
    channels = model.input_shape[0]
    if sizes and not any(accepts_size(model, channels, size) for size in sizes):
        side = model.input_shape[-1]
        raise ValueError(f"sizes {sizes}: {model.name} runs at none of them (it takes "
                         f"{side} x {side} px images); give sizes = [{side}]")


def _setting(ctx: RunContext, net: zoo.Classifier, images: torch.Tensor,
             setting: dict[str, Any], seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
    """One size and step count, run ``REPEATS`` times with the same seed: each run's rows,
    the determinism row, and the first run's loss trace."""
    steps = setting["steps"]
    rows: list[dict[str, Any]] = []
    results: list[GenResult] = []
    for repeat in range(REPEATS):
        ctx.sync()
        with peak_memory(ctx.device) as memory:
            start = time.perf_counter()
            result = run_method(setting["method"], net, images, steps=steps,
                                generator=ctx.generator(seed))
            ctx.sync()
            seconds = time.perf_counter() - start
        results.append(result)
        rows += _run_rows({**setting, "repeat": repeat}, result, seconds, steps, memory)
    same = torch.equal(results[0].image, results[1].image)
    rows.append({**setting, "metric": DETERMINISTIC, "value": float(same)})
    return rows, results[0].losses.numpy()


def _padded(traces: list[np.ndarray]) -> np.ndarray:
    """The traces as rows of one array, NaN after each one's end."""
    width = max((len(t) for t in traces), default=0)
    padded = np.full((len(traces), width), np.nan)
    for i, t in enumerate(traces):
        padded[i, : len(t)] = t
    return padded


def _run_rows(setting: dict[str, object], result: GenResult, seconds: float, steps: int,
              memory: PeakMemory) -> list[dict[str, object]]:
    values = {
        SECONDS: seconds,
        SECONDS_PER_STEP: seconds / steps,
        EVALUATIONS_PER_STEP: result.evaluations / steps,
        PEAK_MEMORY_MB: memory.extra_bytes / MB,
        FINITE: float(result.finite),
        IMPROVED: float(result.improved),
        INITIAL_LOSS: float(result.losses[0]),
        FINAL_LOSS: result.final_loss,
    }
    if result.failed_step is not None:
        values[FAILED_STEP] = float(result.failed_step)
    extra = {"memory_source": memory.source}
    return [{**setting, **extra, "metric": k, "value": v} for k, v in values.items()]
