"""The lecture's images made by optimisation, for one model: class models per class with and
without each of Yosinski et al.'s regularisers, channel visualisations at a shallow and a deep
layer, inversions of one image from every depth, a dream and a stylised photo."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.context import RunContext
from bench.jobs.gen_params import (
    CONTENT_PHOTO,
    STYLE_PHOTO,
    accepts_size,
    layers_for,
    model_or_random,
    style_layers,
)
from bench.spec import REQUIRED, Job, JobOutput, KindSpec
from generative import GenResult
from generative.class_model import class_model
from generative.deep_dream import deep_dream
from generative.inversion import inversion_by_depth
from generative.neuron import neuron_visualisation
from generative.regularisers import ContributionClip, GaussianBlur, Jitter, L2Decay, NormClip
from generative.style_transfer import style_transfer
from zoo import load_photo

PARTS = ("class_models", "neurons", "inversion", "dream", "style")
CHANNELS = 6  # channels shown per layer


def regulariser_variants(side: int) -> dict[str, tuple[Any, ...]]:
    """No regulariser, each alone, and all together; strengths scaled to the image side
    (Yosinski et al. tuned theirs for 227 px images)."""
    pieces = {
        "l2_decay": L2Decay(0.01),
        "blur": GaussianBlur(sigma=max(0.5, side / 64), every=4),
        "norm_clip": NormClip(20.0),
        "contribution_clip": ContributionClip(20.0),
        "jitter": Jitter(max(1, side // 16)),
    }
    return {"none": (), **{k: (v,) for k, v in pieces.items()}, "all": tuple(pieces.values())}


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = model_or_random(ctx, p["model"], p.get("weights"))
    steps, parts = p["steps"], p["parts"]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown gallery part {unknown[0]!r}; parts: {', '.join(PARTS)}")
    base = {"model_label": model.label}
    art: dict[str, np.ndarray] = {"class_names": np.array(model.class_names, dtype=str)}
    rows: list[dict[str, Any]] = []

    def keep(prefix: str, result: GenResult) -> None:
        art[f"{prefix}_losses"] = result.losses.numpy()

    if "class_models" in parts:
        side = model.input_shape[-1]
        classes = list(range(min(model.num_classes, p["classes_shown"])))
        images, losses, names = [], [], []
        for name, regs in regulariser_variants(side).items():
            result = class_model(model, classes, steps=steps, regularisers=regs,
                                 generator=ctx.generator(p["seed"]))
            with torch.no_grad():
                prob = model(result.image).softmax(dim=1)[torch.arange(len(classes)), classes]
            images.append(result.image.cpu().numpy())
            losses.append(result.losses.numpy())
            names.append(name)
            rows += [{**base, "method": "class_model", "variant": name, "metric": metric,
                      "value": value} for metric, value in (
                ("target_probability", float(prob.mean())),
                ("target_probability_min", float(prob.min())),
                ("finite", float(result.finite)), ("improved", float(result.improved)))]
        art.update(class_models=np.stack(images), class_losses=np.stack(losses),
                   class_variants=np.array(names, dtype=str))
    layers = layers_for(model)
    if "neurons" in parts:
        shown = [layers[0], layers[-1]]
        images, labels = [], []
        for layer in shown:
            result = neuron_visualisation(model, layer, list(range(CHANNELS)), steps=steps,
                                          regularisers=(Jitter(1),),
                                          generator=ctx.generator(p["seed"]))
            images.append(result.image.cpu().numpy())
            labels.append(layer)
            keep(f"neuron_{len(labels) - 1}", result)
            rows.append({**base, "method": "neuron_visualisation", "layer": layer,
                         "metric": "improved", "value": float(result.improved)})
        art.update(neurons=np.stack(images), neuron_layers=np.array(labels, dtype=str))
    if "inversion" in parts:
        x, _ = ctx.sample(p["dataset"], 1, p["seed"])
        depths = inversion_by_depth(model, x, layers, steps=p["inversion_steps"],
                                    generator=ctx.generator(p["seed"]))
        art.update(
            inversion_original=x[0].cpu().numpy(),
            inversions=np.stack([d.result.image[0].cpu().numpy() for d in depths]),
            inversion_layers=np.array([d.layer for d in depths], dtype=str),
            inversion_losses=np.stack([d.result.losses.numpy() for d in depths]),
        )
        for depth, d in enumerate(depths):
            rows += [{**base, "method": "feature_inversion", "layer": d.layer, "depth": depth,
                      "metric": metric, "value": value} for metric, value in (
                ("feature_error", d.feature_error), ("pixel_error", d.pixel_error))]
    channels, side = model.input_shape[0], p["photo_size"]
    photo_ok = channels == 3 and accepts_size(model, 3, side)
    if "dream" in parts and photo_ok:
        source = load_photo(CONTENT_PHOTO, side).unsqueeze(0).to(ctx.device)
        layer = layers[len(layers) // 2]
        result = deep_dream(model, source, layer, steps=p["dream_steps"],
                            generator=ctx.generator(p["seed"]))
        art.update(dream_source=source[0].cpu().numpy(), dream=result.image[0].cpu().numpy(),
                   dream_layer=np.array([layer], dtype=str))
        keep("dream", result)
        rows.append({**base, "method": "deep_dream", "layer": layer, "metric": "finite",
                     "value": float(result.finite)})
    if "style" in parts and photo_ok:
        content = load_photo(CONTENT_PHOTO, side).unsqueeze(0).to(ctx.device)
        style = load_photo(STYLE_PHOTO, side).unsqueeze(0).to(ctx.device)
        content_layer, styles = style_layers(model)
        for optimizer in ("lbfgs", "adam"):
            result = style_transfer(model, content, style, content_layer=content_layer,
                                    style_layers=styles, optimizer=optimizer,
                                    steps=p["style_steps"], generator=ctx.generator(p["seed"]))
            art[f"style_{optimizer}"] = result.image[0].cpu().numpy()
            keep(f"style_{optimizer}", result)
            for term, trace in result.terms.items():
                art[f"style_{optimizer}_{term}"] = trace.numpy()
            rows += [{**base, "method": "style_transfer", "optimizer": optimizer,
                      "metric": metric, "value": value} for metric, value in (
                ("final_loss", result.final_loss), ("improved", float(result.improved)),
                ("evaluations", float(result.evaluations)))]
        art.update(style_content=content[0].cpu().numpy(), style_style=style[0].cpu().numpy(),
                   style_layers=np.array(styles, dtype=str))
    return JobOutput(rows, {"gallery": art})


SPEC = KindSpec(
    name="gallery",
    run=run,
    params={"model": REQUIRED, "weights": None, "n": 1, "parts": list(PARTS),
            "classes_shown": 10, "steps": 100, "inversion_steps": 200, "dream_steps": 10,
            "style_steps": 50, "photo_size": 96},
    expand=("model",),
    grids=("parts",),
    description="class models with and without each regulariser, channel visualisations, "
                "inversions by depth, a dream and a stylised photo",
)
