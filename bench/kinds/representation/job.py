"""What the network represents (the first part of CS231n lecture 9): first-layer filters, one
image's activations, maximally activating patches, the penultimate feature space (t-SNE and
nearest neighbours against pixel space), and the occlusion heat map of the true class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import zoo
from attribution.views import (
    activation_grid,
    activations,
    first_layer_filters,
    max_patches,
    nearest_neighbours,
    occluded_activations,
    occlusion_probability_map,
    penultimate_features,
    tsne_embedding,
)
from bench.context import RunContext
from bench.schema import Dataset, Model
from bench.spec import JobOutput
from zoo.layers import first_activation, last_conv
from zoo.params import Positive, PositiveInt

QUERIES, NEIGHBOURS, PATCH_CHANNELS, PATCHES, OCCLUDED = 4, 5, 6, 6, 3

# metrics (the ``method`` column is ``views``)
NEIGHBOUR_AGREEMENT_FEATURES = "neighbour_label_agreement_features"
NEIGHBOUR_AGREEMENT_PIXELS = "neighbour_label_agreement_pixels"
RECEPTIVE_FIELD = "receptive_field"  # in pixels, of the patch layer's units
TSNE_PERPLEXITY = "tsne_perplexity"  # the one used: capped for small samples
#: the artifact; its ``filters`` are the first convolution's raw weights (K, C, kh, kw), which
#: the section scales for display (runs stored before held the tiled (C, H, W) image)
VIEWS = "views"


def run(
    ctx: RunContext,
    *,
    model: Model,
    weights: str | None = None,
    dataset: Dataset,
    n: PositiveInt = 500,
    seed: int,
    perplexity: Positive = 30.0,
) -> JobOutput:
    net = ctx.model(model, weights)
    x, y = ctx.sample(dataset, n, seed)
    # the occluded images: correctly classified ones of distinct classes, from the same sample
    shown, shown_y = ctx.examples(net, dataset, min(OCCLUDED, n), seed, candidates=n)
    act_layer, patch_layer = first_activation(net), last_conv(net)
    patches = max_patches(net, x, patch_layer, list(range(PATCH_CHANNELS)), k=PATCHES)
    features = penultimate_features(net, x)
    # a small folder cannot hold t-SNE's default neighbourhood (perplexity < N is required)
    perplexity = min(perplexity, max(1.0, (len(x) - 1) / 3))
    art, agreement = _neighbours(x, y, features)
    art |= _occlusion(net, shown, shown_y, act_layer)
    art |= {
        "filters": first_layer_filters(net).cpu().numpy(),
        "activation_image": shown[0].cpu().numpy(),
        "activations": activation_grid(activations(net, shown[:1], act_layer)).cpu().numpy(),
        "patches": patches.patches.cpu().numpy(),
        "patch_values": patches.values.cpu().numpy(),
        "embedding": tsne_embedding(features, seed=seed, perplexity=perplexity),
        "class_names": np.array(ctx.class_names(net), dtype=str),
        "layers": np.array([act_layer, patch_layer], dtype=str),
    }
    base = {"model_label": net.label, "method": "views"}
    rows = [
        {**base, "metric": NEIGHBOUR_AGREEMENT_FEATURES, "value": agreement[0]},
        {**base, "metric": NEIGHBOUR_AGREEMENT_PIXELS, "value": agreement[1]},
        {**base, "metric": RECEPTIVE_FIELD, "value": float(patches.receptive_field.size[0]),
         "layer": patch_layer},
        {**base, "metric": TSNE_PERPLEXITY, "value": float(perplexity)},
    ]
    return JobOutput(rows, {VIEWS: art})


def _neighbours(x: torch.Tensor, y: torch.Tensor,
                features: torch.Tensor) -> tuple[dict[str, np.ndarray], tuple[float, float]]:
    """The first queries' nearest neighbours in feature and in pixel space, and over every
    image the share of neighbours with the query's class in each (how well each space
    groups the classes)."""
    # every image is a query; k + 1 because each finds itself first
    by_feature = nearest_neighbours(features, features, k=NEIGHBOURS + 1)[0][:, 1:].cpu()
    by_pixel = nearest_neighbours(x, x, k=NEIGHBOURS + 1)[0][:, 1:].cpu()
    labels, images = y.cpu(), x.cpu()
    art = {
        "labels": labels.numpy(),
        "queries": images[:QUERIES].numpy(),  # (Q, C, H, W)
        "feature_neighbours": images[by_feature[:QUERIES]].numpy(),  # (Q, k, C, H, W)
        "pixel_neighbours": images[by_pixel[:QUERIES]].numpy(),
    }
    agree = tuple(float((labels[found] == labels[:, None]).float().mean())
                  for found in (by_feature, by_pixel))
    return art, (agree[0], agree[1])


def _occlusion(net: zoo.Classifier, shown: torch.Tensor, shown_y: torch.Tensor,
               act_layer: str) -> dict[str, Any]:
    """The true class's probability as a grey square covers each position of the shown
    images, and each first-layer channel's mean response to the same square on the first."""
    side = shown.shape[-1]
    # a quarter of the side: big enough to hide a stroke or a corner of the object
    window, stride = max(2, side // 4), max(1, side // 14)
    grid_side = (side - window) // stride + 1
    occluded = occlusion_probability_map(net, shown, shown_y, window=window, stride=stride)
    # the live-neuron demo: each channel's mean response as the same grey square moves
    moved = occluded_activations(net, shown[:1], act_layer, window=window, stride=stride)
    return {
        "occluded_activations": moved.T.reshape(-1, grid_side, grid_side).cpu().numpy(),
        "occluded_images": shown.cpu().numpy(),
        "occlusion": occluded.cpu().numpy(),
    }
