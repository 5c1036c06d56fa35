"""What the network represents (the first part of CS231n lecture 9): first-layer filters, one
image's activations, maximally activating patches, the penultimate feature space (t-SNE and
nearest neighbours against pixel space), and the occlusion heat map of the true class.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from attribution.views import (
    activation_grid,
    activations,
    filter_grid,
    first_layer_filters,
    max_patches,
    nearest_neighbours,
    occluded_activations,
    occlusion_probability_map,
    penultimate_features,
    tsne_embedding,
)
from bench.context import RunContext
from bench.jobs.examples import pick_examples
from bench.jobs.method_params import last_conv
from bench.spec import REQUIRED, Job, JobOutput, KindSpec

QUERIES, NEIGHBOURS, PATCH_CHANNELS, PATCHES, OCCLUDED = 4, 5, 6, 6, 3


def first_activation(model: nn.Module) -> str:
    """The ReLU after the first convolution: the lecture's first-layer activations."""
    modules = list(model.named_modules())
    for i, (_, m) in enumerate(modules):
        if isinstance(m, nn.Conv2d):
            after = modules[i + 1] if i + 1 < len(modules) else None
            return after[0] if after and isinstance(after[1], nn.ReLU) else modules[i][0]
    raise ValueError("the representation views need a convolutional layer")


def run(job: Job, ctx: RunContext) -> JobOutput:
    p = job.params
    model = ctx.model(p["model"], p.get("weights"))
    x, y = ctx.sample(p["dataset"], p["n"], p["seed"])
    shown, shown_y = pick_examples(model, x, y, OCCLUDED)
    act_layer, patch_layer = first_activation(model), last_conv(model)
    acts = activations(model, shown[:1], act_layer)  # (1, K, h, w)
    patches = max_patches(model, x, patch_layer, list(range(PATCH_CHANNELS)), k=PATCHES)
    features = penultimate_features(model, x)
    # every image is a query; k + 1 because each finds itself first
    by_feature = nearest_neighbours(features, features, k=NEIGHBOURS + 1)[0][:, 1:].cpu()
    by_pixel = nearest_neighbours(x, x, k=NEIGHBOURS + 1)[0][:, 1:].cpu()
    labels = y.cpu()
    side = x.shape[-1]
    # a small folder cannot hold t-SNE's default neighbourhood (perplexity < N is required)
    perplexity = min(p["perplexity"], max(1.0, (len(x) - 1) / 3))
    # a quarter of the side: big enough to hide a stroke or a corner of the object
    window, stride = max(2, side // 4), max(1, side // 14)
    grid_side = (side - window) // stride + 1
    occluded = occlusion_probability_map(model, shown, shown_y, window=window, stride=stride)
    # the live-neuron demo: each channel's mean response as the same grey square moves
    moved = occluded_activations(model, shown[:1], act_layer, window=window, stride=stride)
    art = {
        "filters": filter_grid(first_layer_filters(model)).cpu().numpy(),
        "activation_image": shown[0].cpu().numpy(),
        "activations": activation_grid(acts).cpu().numpy(),
        "patches": patches.patches.cpu().numpy(),
        "patch_values": patches.values.cpu().numpy(),
        "embedding": tsne_embedding(features, seed=p["seed"], perplexity=perplexity),
        "labels": labels.numpy(),
        "queries": x[:QUERIES].cpu().numpy(),  # (Q, C, H, W)
        "feature_neighbours": x.cpu()[by_feature[:QUERIES]].numpy(),  # (Q, k, C, H, W)
        "pixel_neighbours": x.cpu()[by_pixel[:QUERIES]].numpy(),
        "occluded_activations": moved.T.reshape(-1, grid_side, grid_side).cpu().numpy(),
        "occluded_images": shown.cpu().numpy(),
        "occlusion": occluded.cpu().numpy(),
        "class_names": np.array(model.class_names, dtype=str),
        "layers": np.array([act_layer, patch_layer], dtype=str),
    }
    # share of neighbours with the query's class: how well each space groups the classes
    agree_f = (labels[by_feature] == labels[:, None]).float().mean()
    agree_p = (labels[by_pixel] == labels[:, None]).float().mean()
    base = {"model_label": model.label, "method": "views"}
    rows = [
        {**base, "metric": "neighbour_label_agreement_features", "value": float(agree_f)},
        {**base, "metric": "neighbour_label_agreement_pixels", "value": float(agree_p)},
        {**base, "metric": "receptive_field", "value": float(patches.receptive_field.size[0]),
         "layer": patch_layer},
        {**base, "metric": "tsne_perplexity", "value": float(perplexity)},
    ]
    return JobOutput(rows, {"views": art})


SPEC = KindSpec(
    name="representation",
    run=run,
    params={"model": REQUIRED, "weights": None, "n": 500, "perplexity": 30.0},
    expand=("model",),
    description="filters, activations, max-activating patches, t-SNE, neighbours, occlusion",
)
