"""Robust accuracy vs eps for one model, attack and norm (``attacks.robust_accuracy``), with
each example's outcome kept so the audit card can take the worst case over attacks. A transfer
attack's surrogate is named like the model (``surrogate = "mnist_cnn"``) and loaded the same
way."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np

import attacks
from attacks.common import NoGradientError, Norm
from attacks.registry import ATTACKS, get_attack
from attacks.robust_accuracy import untargeted
from bench.context import RunContext
from bench.schema import Dataset, Model, Names
from bench.spec import JobOutput
from zoo.params import Budgets, PositiveInt

ROBUST_ACCURACY = "robust_accuracy"  # cumulative, per eps
RAW_ACCURACY = "raw_accuracy"  # every eps attacked on its own (reuse = false only)
CLEAN_ACCURACY = "clean_accuracy"
GRADIENT_PASSES = "gradient_passes"
FORWARD_PASSES = "forward_passes"
ATTACK_SECONDS = "attack_seconds"
PER_EXAMPLE = "per_example"  # the artifact: eps grid, clean_correct, fooled_at
LEFT_OUT = "left_out"  # a white-box attack on a model without input gradients, with ``reason``


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt,
    seed: int,
    attack: Annotated[str, Names(ATTACKS, pick=untargeted)],
    norm: Norm = "linf",
    eps: Budgets,
    batch_size: PositiveInt = 256,
    reuse: bool = True,
    surrogate: Model | None = None,
    **settings: Any,
) -> JobOutput:
    """``settings``: the attack's own (``steps``, ``rel_alpha``...), as the suite gave them.
    ``surrogate``: the model a transfer attack makes its examples on (only for one)."""
    net = ctx.model(model, weights)
    x, y = ctx.sample(dataset, n, seed)
    extra = {} if surrogate is None else {"surrogate": ctx.model(surrogate)}
    base = {"model_label": net.label, "method": attack,
            "weights_sha256": ctx.weights_sha256(net)}
    try:
        result = attacks.robust_accuracy(
            net, x, y, attack=attack, eps=eps, norm=norm, batch_size=batch_size, reuse=reuse,
            generator=ctx.generator(seed), **extra, **settings,
        )
    except NoGradientError as err:
        # not a failure of the run: the attack does not apply to this model, and why is
        # the finding (the card and the sanity checks say what it means)
        return JobOutput([{**base, "metric": LEFT_OUT, "value": None, "reason": str(err)}])
    raw = result.raw_accuracy or (None,) * len(result.eps)  # None on the reuse fast path
    rows = []
    for e, acc, raw_acc in zip(result.eps, result.accuracy, raw, strict=True):
        rows.append({**base, "metric": ROBUST_ACCURACY, "value": acc, "eps": e})
        if raw_acc is not None:
            rows.append({**base, "metric": RAW_ACCURACY, "value": raw_acc, "eps": e})
    rows.append({**base, "metric": CLEAN_ACCURACY, "value": result.clean_accuracy, "eps": 0.0})
    for metric, value in ((GRADIENT_PASSES, result.gradient_passes),
                          (FORWARD_PASSES, result.forward_passes),
                          (ATTACK_SECONDS, result.seconds)):
        rows.append({**base, "metric": metric, "value": value, "eps": None})
    per_example = {"eps": np.asarray(result.eps, dtype=np.float64),
                   "clean_correct": result.clean_correct.cpu().numpy(),
                   "fooled_at": result.fooled_at.cpu().numpy()}
    return JobOutput(rows, {PER_EXAMPLE: per_example})


def white_box(attack: str) -> bool:
    """Whether the attack ``attack`` names needs the model's input gradients (its
    ``access``); an attack this process does not know (a user's, in a stored run) counts as
    white-box."""
    try:
        return get_attack(attack).white_box
    except KeyError:
        return True
