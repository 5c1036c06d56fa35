"""Generative methods as stress tests: for each image size and step count, what a run costs
(seconds per step, peak memory, forward+backward passes) and whether it stayed healthy (every
value finite, the objective improved, the same seed gave the same image)."""

from __future__ import annotations

import time

import numpy as np
import torch

from bench.context import RunContext
from bench.jobs.gen_params import images_at, model_or_random, run_method
from bench.memory import PeakMemory, peak_memory
from bench.spec import REQUIRED, Job, JobOutput, KindSpec
from generative import GenResult, get_method

REPEATS = 2  # the second run of each setting checks that the same seed gives the same image
MB = 2**20


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = model_or_random(ctx, p["model"], p.get("weights"))
    method = get_method(p["method"]).name
    params = sum(t.numel() for t in model.parameters())
    depth = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in model.modules())
    base = {"model_label": model.label, "method": method, "parameters": params,
            "depth": depth}
    rows: list[dict[str, object]] = []
    traces, labels = [], []
    for size in p["sizes"]:
        images = images_at(model, ctx, size, p["n"], p.get("dataset"))
        for steps in p["steps_grid"]:
            setting = {**base, "size": size, "steps": steps}
            results: list[GenResult] = []
            for repeat in range(REPEATS):
                ctx.sync()
                with peak_memory(ctx.device) as memory:
                    start = time.perf_counter()
                    result = run_method(method, model, images, steps=steps,
                                        generator=ctx.generator(p["seed"]))
                    ctx.sync()
                    seconds = time.perf_counter() - start
                results.append(result)
                rows += _run_rows({**setting, "repeat": repeat}, result, seconds, steps, memory)
            same = torch.equal(results[0].image, results[1].image)
            rows.append({**setting, "metric": "deterministic", "value": float(same)})
            traces.append(results[0].losses.numpy())
            labels.append(f"{size}px, {steps} steps")
    width = max(len(t) for t in traces)
    padded = np.full((len(traces), width), np.nan)
    for i, t in enumerate(traces):
        padded[i, : len(t)] = t
    art = {"losses": padded, "labels": np.array(labels, dtype=str),
           "model_label": np.array([model.label], dtype=str)}
    return JobOutput(rows, {"stress": art})


def _run_rows(setting: dict[str, object], result: GenResult, seconds: float, steps: int,
              memory: PeakMemory) -> list[dict[str, object]]:
    values = {
        "seconds": seconds,
        "seconds_per_step": seconds / steps,
        "evaluations_per_step": result.evaluations / steps,
        "peak_memory_mb": memory.extra_bytes / MB,
        "finite": float(result.finite),
        "improved": float(result.improved),
        "initial_loss": float(result.losses[0]),
        "final_loss": result.final_loss,
    }
    if result.failed_step is not None:
        values["failed_step"] = float(result.failed_step)
    extra = {"memory_source": memory.source}
    return [{**setting, **extra, "metric": k, "value": v} for k, v in values.items()]


SPEC = KindSpec(
    name="stress",
    run=run,
    params={"model": REQUIRED, "weights": None, "method": REQUIRED, "sizes": REQUIRED,
            "steps_grid": [5], "n": 2},
    expand=("model", "method"),
    grids=("sizes", "steps_grid"),
    uses_data=True,
    description="generative methods as stress tests: seconds/step, peak memory, finiteness, "
                "improvement and determinism by image size and step count",
)
