"""A few adversarial examples to look at: clean, adversarial and perturbation images with the
model's predictions, for the report's example grid."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import torch

from attacks.common import Norm
from attacks.registry import ATTACKS
from attacks.robust_accuracy import untargeted
from bench.context import RunContext
from bench.schema import Dataset, Model, Names
from bench.spec import JobOutput
from zoo.params import NonNegative, PositiveInt

SUCCESS_RATE = "success_rate"  # share of the shown examples the attack fooled
LINF_PERTURBATION = "linf_perturbation"  # the largest L∞ norm of a perturbation
L2_PERTURBATION = "l2_perturbation"  # the largest L2 norm of a perturbation
EXAMPLES = "examples"  # the artifact: images, labels, predictions, confidences, class names
CANDIDATES = 512  # test images searched for correctly classified examples of each class


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt = 6,
    seed: int,
    attack: Annotated[str, Names(ATTACKS, pick=untargeted)] = "pgd",
    norm: Norm = "linf",
    eps: NonNegative,
    **settings: Any,
) -> JobOutput:
    """``settings``: the attack's own (``steps``, ``rel_alpha``...), as the suite gave them."""
    net = ctx.model(model, weights)
    x, y = ctx.examples(net, dataset, n, seed, candidates=CANDIDATES)
    info = ATTACKS.get(attack)
    kwargs = info.kwargs(settings, eps=eps)
    if info.takes("norm"):
        kwargs["norm"] = norm
    if info.random:
        kwargs["generator"] = ctx.generator(seed)
    x_adv = info(net, x, y, eps=eps, **kwargs)
    arrays = _predictions(net, x, y, x_adv)
    delta = arrays["perturbation"]
    artifact = {k: v.detach().cpu().numpy() for k, v in arrays.items()}
    artifact["class_names"] = np.array(ctx.class_names(net), dtype=str)
    base = {"model_label": net.label, "method": attack}
    rows = [
        {**base, "metric": SUCCESS_RATE,
         "value": float((arrays["pred_adv"] != y).float().mean())},
        {**base, "metric": LINF_PERTURBATION,
         "value": float(delta.flatten(1).abs().max(dim=1).values.max())},
        {**base, "metric": L2_PERTURBATION, "value": float(delta.flatten(1).norm(dim=1).max())},
    ]
    return JobOutput(rows, {EXAMPLES: artifact})


def _predictions(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                 x_adv: torch.Tensor) -> dict[str, torch.Tensor]:
    """The images, the perturbation, the labels, and the top class and its probability on
    the clean and the adversarial images."""
    with torch.no_grad():
        conf, pred = net(x).softmax(dim=1).max(dim=1)
        conf_adv, pred_adv = net(x_adv).softmax(dim=1).max(dim=1)
    return {"clean": x, "adversarial": x_adv, "perturbation": x_adv - x, "label": y,
            "pred": pred, "confidence": conf, "pred_adv": pred_adv,
            "confidence_adv": conf_adv}
