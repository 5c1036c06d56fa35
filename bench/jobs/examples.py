"""A few adversarial examples to look at: clean, adversarial and perturbation images with the
model's predictions, for the report's example grid.
"""

from __future__ import annotations

import numpy as np
import torch

from attacks import get_attack
from bench.context import RunContext
from bench.jobs.attack_params import ATTACK_DEFAULTS, attack_kwargs, fit_to_attack
from bench.spec import REQUIRED, Job, JobOutput, KindSpec
from zoo import Classifier

CANDIDATES = 512  # test images searched for correctly classified examples of each class


def pick_examples(
    model: Classifier, x: torch.Tensor, y: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``n`` images of distinct classes (0, 1, 2, ...) that the model gets right.

    An example the model already misclassifies shows nothing about the attack, so those
    are used only when too few correct ones exist (a random-weight model).
    """
    with torch.no_grad():
        pred = model(x).argmax(dim=1)
    chosen: list[int] = []
    for c in range(model.num_classes):
        hits = ((y == c) & (pred == c)).nonzero().flatten()
        if len(hits):
            chosen.append(int(hits[0]))
        if len(chosen) == n:
            break
    rest = [i for i in range(len(x)) if i not in chosen]
    chosen += rest[: n - len(chosen)]
    index = torch.tensor(chosen, device=x.device)
    return x[index], y[index]


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = ctx.model(p["model"], p.get("weights"))
    pool_x, pool_y = ctx.sample(p["dataset"], max(CANDIDATES, p["n"]), p["seed"])
    x, y = pick_examples(model, pool_x, pool_y, p["n"])
    info = get_attack(p["attack"])
    kwargs = attack_kwargs(p, p["eps"])
    if info.random:
        kwargs["generator"] = ctx.generator(p["seed"])
    x_adv = info.fn(model, x, y, eps=p["eps"], **kwargs)
    with torch.no_grad():
        prob = model(x).softmax(dim=1)  # (n, K)
        prob_adv = model(x_adv).softmax(dim=1)
    conf, pred = prob.max(dim=1)
    conf_adv, pred_adv = prob_adv.max(dim=1)
    delta = x_adv - x
    arrays = {
        "clean": x, "adversarial": x_adv, "perturbation": delta, "label": y,
        "pred": pred, "confidence": conf, "pred_adv": pred_adv, "confidence_adv": conf_adv,
    }
    artifact = {k: v.detach().cpu().numpy() for k, v in arrays.items()}
    artifact["class_names"] = np.array(model.class_names, dtype=str)
    base = {"model_label": model.label, "method": p["attack"]}
    rows = [
        {**base, "metric": "success_rate", "value": float((pred_adv != y).float().mean())},
        {**base, "metric": "linf_perturbation",
         "value": float(delta.flatten(1).abs().max(dim=1).values.max())},
        {**base, "metric": "l2_perturbation",
         "value": float(delta.flatten(1).norm(dim=1).max())},
    ]
    return JobOutput(rows, {"examples": artifact})


SPEC = KindSpec(
    name="examples",
    run=run,
    params={
        "model": REQUIRED,
        "weights": None,
        "attack": "pgd",
        "norm": "linf",
        "eps": REQUIRED,
        "n": 6,
        **ATTACK_DEFAULTS,
    },
    expand=("model", "attack", "norm"),
    finish=fit_to_attack,
    description="a few clean / adversarial / perturbation images with predictions",
)
