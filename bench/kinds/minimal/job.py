"""The smallest adversarial perturbation per example for one model, minimal attack and norm
(``attacks.minimal.minimal_perturbation``), its quantiles, and robust accuracy at every eps
of the grid, with each example's outcome kept in the robustness kind's form so that the
audit card takes the worst case over these attacks too."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np

from attacks.common import Norm
from attacks.minimal import minimal_only, minimal_perturbation
from attacks.registry import ATTACKS
from bench.context import RunContext
from bench.schema import Dataset, Model, Names
from bench.spec import JobOutput
from zoo.params import Budgets, PositiveInt

ROBUST_ACCURACY = "robust_accuracy"  # per eps: clean-correct and minimal norm > eps
CLEAN_ACCURACY = "clean_accuracy"
SUCCESS_RATE = "success_rate"  # share of the clean-correct examples fooled at some size
NORM_QUANTILE = "norm_quantile"  # per ``quantile``: of the norms over clean-correct examples
GRADIENT_PASSES = "gradient_passes"
FORWARD_PASSES = "forward_passes"
ATTACK_SECONDS = "attack_seconds"
PER_EXAMPLE = "per_example"  # artifact: eps grid, clean_correct, fooled_at (robustness's form)
NORMS = "norms"  # artifact: ``norms`` per example (0 clean-wrong, inf not found)


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt,
    seed: int,
    attack: Annotated[str, Names(ATTACKS, pick=minimal_only)],
    norm: Norm = "l2",
    eps: Budgets,
    batch_size: PositiveInt = 256,
    **settings: Any,
) -> JobOutput:
    """``eps``: the budgets the curve is read at (the attack itself runs without one);
    ``settings``: the attack's own (``steps``...), as the suite gave them."""
    net = ctx.model(model, weights)
    x, y = ctx.sample(dataset, n, seed)
    result = minimal_perturbation(net, x, y, attack=attack, norm=norm, batch_size=batch_size,
                                  generator=ctx.generator(seed), **settings)
    base = {"model_label": net.label, "method": attack,
            "weights_sha256": ctx.weights_sha256(net)}
    rows = [{**base, "metric": ROBUST_ACCURACY, "value": acc, "eps": e}
            for e, acc in zip(eps, result.accuracy(eps), strict=True)]
    rows.append({**base, "metric": CLEAN_ACCURACY, "value": result.clean_accuracy,
                 "eps": 0.0})
    quantiles = result.quantiles() or {}
    rows += [{**base, "metric": NORM_QUANTILE, "value": v, "quantile": q}
             for q, v in quantiles.items()]
    for metric, value in ((SUCCESS_RATE, result.success_rate),
                          (GRADIENT_PASSES, result.gradient_passes),
                          (FORWARD_PASSES, result.forward_passes),
                          (ATTACK_SECONDS, result.seconds)):
        rows.append({**base, "metric": metric, "value": value})
    artifacts = {
        PER_EXAMPLE: {"eps": np.asarray(eps, dtype=np.float64),
                      "clean_correct": result.clean_correct.numpy(),
                      "fooled_at": result.fooled_at(eps).numpy()},
        NORMS: {"norms": result.norms.numpy()},
    }
    return JobOutput(rows, artifacts)
