"""The lecture's images made by optimisation, for one model: class models per class with and
without each of Yosinski et al.'s regularisers, channel visualisations at a shallow and a deep
layer, inversions of one image from every depth, a dream and a stylised photo. Each part is a
function of its own; ``run`` calls those the job asks for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import torch

import zoo
from bench.context import CONTENT_PHOTO, STYLE_PHOTO, RunContext
from bench.kinds.attribution_calls import LEFT_OUT
from bench.kinds.generative_calls import dream_octaves
from bench.schema import Dataset, Model
from bench.spec import JobOutput
from generative import GenResult
from generative.class_model import class_model
from generative.deep_dream import deep_dream
from generative.inversion import inversion_by_depth
from generative.neuron import neuron_visualisation
from generative.registry import METHODS
from generative.regularisers import ContributionClip, GaussianBlur, Jitter, L2Decay, NormClip
from generative.style_transfer import style_transfer
from zoo.layers import accepts_size, layers_for, output_shapes, style_layers
from zoo.params import PositiveInt

Part = Literal["class_models", "neurons", "inversion", "dream", "style"]
PARTS: tuple[str, ...] = get_args(Part)
CHANNELS = 6  # channels shown per layer
#: the most layers one image is inverted from: a deep network's (EfficientNet-B0 has 81
#: convolutions) are spread evenly over its depth, first and last included
DEPTHS = 8
ARTIFACT = "gallery"  # the one artifact: every image, trace and name the section draws
#: the part each method's rows belong to
PART_OF = {"neurons": "neuron_visualisation", "inversion": "feature_inversion",
           "dream": "deep_dream", "style": "style_transfer"}

# the ``method`` column of the rows
CLASS_MODEL = "class_model"
NEURON = "neuron_visualisation"
INVERSION = "feature_inversion"
DREAM = "deep_dream"
STYLE = "style_transfer"

# metrics
TARGET_PROBABILITY = "target_probability"  # class models: mean over classes
TARGET_PROBABILITY_MIN = "target_probability_min"
FINITE = "finite"
IMPROVED = "improved"
FEATURE_ERROR = "feature_error"  # inversion, per depth
PIXEL_ERROR = "pixel_error"
FINAL_LOSS = "final_loss"  # style transfer, per optimizer
EVALUATIONS = "evaluations"


@dataclass
class Gallery:
    """What one job collects: its rows and arrays, and what every part starts from."""

    ctx: RunContext
    net: zoo.Classifier
    seed: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    art: dict[str, np.ndarray] = field(default_factory=dict)

    def row(self, **values: Any) -> None:
        self.rows.append({"model_label": self.net.label, **values})

    def generator(self) -> torch.Generator:
        """A fresh generator per optimisation, so each part's images depend on the seed only."""
        return self.ctx.generator(self.seed)

    def keep_losses(self, prefix: str, result: GenResult) -> None:
        self.art[f"{prefix}_losses"] = result.losses.numpy()

    def left_out(self, part: str, reason: str) -> None:
        """A part the job leaves out, and why: one ``LEFT_OUT`` row."""
        self.row(method=PART_OF[part], metric=LEFT_OUT, value=1.0, reason=reason)

    def photo(self, name: str, side: int) -> torch.Tensor:
        return zoo.load_photo(name, side).unsqueeze(0).to(self.ctx.device)


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt = 1,
    seed: int,
    parts: Sequence[Part] = PARTS,
    classes_shown: PositiveInt = 10,
    steps: PositiveInt = 100,
    inversion_steps: PositiveInt = 200,
    dream_steps: PositiveInt = 10,
    style_steps: PositiveInt = 50,
    photo_size: PositiveInt = 96,
) -> JobOutput:
    """``n`` is recorded in the config only: the inversion inverts one image. A part the
    model does not allow is left out, its reason in a ``LEFT_OUT`` row (``method`` names
    it): the parts aimed at a layer need layers that hooks can read (not TorchScript), dream
    and style a colour model that runs at ``photo_size``."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown gallery part {unknown[0]!r}; parts: {', '.join(PARTS)}")
    net = ctx.model_or_random(model, weights)
    g = Gallery(ctx, net, seed)
    g.art["class_names"] = np.array(ctx.class_names(net), dtype=str)
    if "class_models" in parts:
        class_models(g, shown_classes(g, dataset, classes_shown), steps)
    layered = [p for p in PARTS if p in parts and p != "class_models"]
    if not layered:
        return JobOutput(g.rows, {ARTIFACT: g.art})
    try:
        layers = layers_for(net)
    except ValueError as err:  # no layer to aim at: every part but class models is left out
        for part in layered:
            g.left_out(part, str(err))
        return JobOutput(g.rows, {ARTIFACT: g.art})
    if "neurons" in parts:
        neurons(g, list(dict.fromkeys([layers[0], layers[-1]])), steps)  # one if one layer
    if "inversion" in parts:
        inversion(g, dataset, layers, inversion_steps)
    photos = photo_refusal(net, photo_size)
    for part in ("dream", "style"):
        if part in parts and photos is not None:
            g.left_out(part, photos)
    if "dream" in parts and photos is None:
        dream(g, photo_size, layers[len(layers) // 2], dream_steps)
    if "style" in parts and photos is None:
        style(g, photo_size, style_steps)
    return JobOutput(g.rows, {ARTIFACT: g.art})


def photo_refusal(net: zoo.Classifier, side: int) -> str | None:
    """Why the photo parts (dream, style) cannot run on ``net`` at ``side`` px, or ``None``."""
    if net.input_shape[0] != 3:
        return (f"its photos are in colour, and the model takes {net.input_shape[0]}-channel "
                "images")
    if not accepts_size(net, 3, side):
        return f"the model does not run at {side} x {side} px photos"
    return None


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


def shown_classes(g: Gallery, dataset: str, classes_shown: int) -> list[int]:
    """The classes to make models of: the model's first ``classes_shown``, or, for a model
    with more classes than that (1000 ImageNet classes, a folder of four), the first
    ``classes_shown`` of those its test data holds, so the page shows classes the run knows."""
    if g.net.num_classes <= classes_shown:
        return list(range(g.net.num_classes))
    _, y = g.ctx.dataset(dataset)
    present = sorted({int(c) for c in y.tolist() if 0 <= int(c) < g.net.num_classes})
    return present[:classes_shown] or list(range(classes_shown))


def class_models(g: Gallery, classes: list[int], steps: int) -> None:
    """One image per class for each regulariser variant, and how sure the model is of each;
    the artifact keeps the classes (``class_ids``)."""
    net = g.net
    g.art["class_ids"] = np.array(classes, dtype=np.int64)
    images, losses, names = [], [], []
    for name, regs in regulariser_variants(net.input_shape[-1]).items():
        result = class_model(net, classes, steps=steps, regularisers=regs,
                             generator=g.generator())
        with torch.no_grad():
            prob = net(result.image).softmax(dim=1)[torch.arange(len(classes)), classes]
        images.append(result.image.cpu().numpy())
        losses.append(result.losses.numpy())
        names.append(name)
        for metric, value in ((TARGET_PROBABILITY, float(prob.mean())),
                              (TARGET_PROBABILITY_MIN, float(prob.min())),
                              (FINITE, float(result.finite)),
                              (IMPROVED, float(result.improved))):
            g.row(method=CLASS_MODEL, variant=name, metric=metric, value=value)
    g.art.update(class_models=np.stack(images), class_losses=np.stack(losses),
                 class_variants=np.array(names, dtype=str))


def neurons(g: Gallery, layers: list[str], steps: int) -> None:
    """The first ``CHANNELS`` channels of each layer (as many as the narrowest has),
    visualised."""
    shown = min(CHANNELS, *(shape[0] for shape in output_shapes(g.net, layers).values()))
    images = []
    for i, layer in enumerate(layers):
        result = neuron_visualisation(g.net, layer, list(range(shown)), steps=steps,
                                      regularisers=(Jitter(1),), generator=g.generator())
        images.append(result.image.cpu().numpy())
        g.keep_losses(f"neuron_{i}", result)
        g.row(method=NEURON, layer=layer, metric=IMPROVED, value=float(result.improved))
    g.art.update(neurons=np.stack(images), neuron_layers=np.array(layers, dtype=str))


def spread(layers: list[str], most: int) -> list[str]:
    """At most ``most`` of ``layers``, evenly spaced, the first and the last included."""
    if len(layers) <= most:
        return list(layers)
    return [layers[round(i * (len(layers) - 1) / (most - 1))] for i in range(most)]


def inversion(g: Gallery, dataset: str, layers: list[str], steps: int) -> None:
    """One test image reconstructed from its code at up to ``DEPTHS`` layers spread over the
    depth, all from the same start."""
    x, _ = g.ctx.sample(dataset, 1, g.seed)
    depths = inversion_by_depth(g.net, x, spread(layers, DEPTHS), steps=steps,
                                generator=g.generator())
    g.art.update(
        inversion_of=np.array([len(layers)]),  # the model's feature layers, all of them
        inversion_original=x[0].cpu().numpy(),
        inversions=np.stack([d.result.image[0].cpu().numpy() for d in depths]),
        inversion_layers=np.array([d.layer for d in depths], dtype=str),
        inversion_losses=np.stack([d.result.losses.numpy() for d in depths]),
    )
    for depth, d in enumerate(depths):
        for metric, value in ((FEATURE_ERROR, d.feature_error), (PIXEL_ERROR, d.pixel_error)):
            g.row(method=INVERSION, layer=d.layer, depth=depth, metric=metric, value=value)


def dream(g: Gallery, side: int, layer: str, steps: int) -> None:
    """The content photo dreamed at ``layer``: the stress jobs' octaves (as many as the model
    runs at, their smallest at least ``MIN_OCTAVE_SIDE``), jitter scaled to the side (the
    method's default 4 px is for 96 px photos)."""
    source = g.photo(CONTENT_PHOTO, side)
    result = deep_dream(g.net, source, layer, steps=steps, generator=g.generator(),
                        octaves=dream_octaves(g.net, 3, side), jitter=max(1, side // 24))
    g.art.update(dream_source=source[0].cpu().numpy(), dream=result.image[0].cpu().numpy(),
                 dream_layer=np.array([layer], dtype=str))
    g.keep_losses("dream", result)
    g.row(method=DREAM, layer=layer, metric=FINITE, value=float(result.finite))


def style(g: Gallery, side: int, steps: int) -> None:
    """The content photo in the style photo's manner, once per optimizer style transfer
    takes, from the same start."""
    content, style_image = g.photo(CONTENT_PHOTO, side), g.photo(STYLE_PHOTO, side)
    content_layer, styles = style_layers(g.net)
    for optimizer in METHODS.get(STYLE).optimizers:
        result = style_transfer(g.net, content, style_image, content_layer=content_layer,
                                style_layers=styles, optimizer=optimizer, steps=steps,
                                generator=g.generator())
        g.art[f"style_{optimizer}"] = result.image[0].cpu().numpy()
        g.keep_losses(f"style_{optimizer}", result)
        for term, trace in result.terms.items():
            g.art[f"style_{optimizer}_{term}"] = trace.numpy()
        for metric, value in ((FINAL_LOSS, result.final_loss),
                              (IMPROVED, float(result.improved)),
                              (EVALUATIONS, float(result.evaluations))):
            g.row(method=STYLE, optimizer=optimizer, metric=metric, value=value)
    g.art.update(style_content=content[0].cpu().numpy(), style_style=style_image[0].cpu().numpy(),
                 style_layers=np.array(styles, dtype=str))
