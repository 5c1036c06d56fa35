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
    MaxPatches,
    activation_grid,
    activations,
    first_layer_filters,
    max_patches,
    nearest_neighbours,
    occluded_activations,
    occlusion_probability_map,
    penultimate_features,
    receptive_field,
    tsne_embedding,
)
from bench.context import RunContext
from bench.kinds.attribution_calls import LEFT_OUT
from bench.schema import Dataset, Model
from bench.spec import JobOutput
from zoo.layers import SCRIPTED, conv_activations, first_activation, is_scripted, output_shape
from zoo.params import Positive, PositiveInt

QUERIES, NEIGHBOURS, PATCH_CHANNELS, PATCHES, OCCLUDED = 4, 5, 6, 6, 3
#: how far past the image side a patch layer's field is probed (4x: a field smaller than
#: the image fits with room to spare; larger ones are not searched for)
PROBE_FACTOR = 4

# metrics (the ``method`` column is ``views``)
NEIGHBOUR_AGREEMENT_FEATURES = "neighbour_label_agreement_features"
NEIGHBOUR_AGREEMENT_PIXELS = "neighbour_label_agreement_pixels"
RECEPTIVE_FIELD = "receptive_field"  # in pixels, of the patch layer's units
TSNE_PERPLEXITY = "tsne_perplexity"  # the one used: capped for small samples
# a view the job left out: metric ``LEFT_OUT`` (value 1), the view in ``view``, why in ``reason``
VIEW = "view"
FILTERS_VIEW = "first_layer_filters"
ACTIVATIONS_VIEW = "activations"  # one image's, and the live-neuron demo's
PATCHES_VIEW = "top_patches"
FEATURES_VIEW = "penultimate_features"  # the t-SNE and the feature-space neighbours
VIEWS_SHOWN = (FILTERS_VIEW, ACTIVATIONS_VIEW, PATCHES_VIEW, FEATURES_VIEW)
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
    """Every view the model allows; a view that needs what the model has not (a layer that
    hooks can read, a convolution, units that see less than the whole image) is left out,
    its reason in a ``LEFT_OUT`` row."""
    net = ctx.model(model, weights)
    x, y = ctx.sample(dataset, n, seed)
    # the occluded images: correctly classified ones of distinct classes, from the same sample
    shown, shown_y = ctx.examples(net, dataset, min(OCCLUDED, n), seed, candidates=n)
    left_out: dict[str, str] = {}
    art: dict[str, Any] = {}
    if is_scripted(net):
        left_out = dict.fromkeys(VIEWS_SHOWN, SCRIPTED)
        act_layer = patch_layer = ""
        patches = features = None
    else:
        act_layer = _refused(left_out, ACTIVATIONS_VIEW, first_activation, net) or ""
        filters = _refused(left_out, FILTERS_VIEW, first_layer_filters, net)
        if filters is not None:
            art["filters"] = filters.cpu().numpy()
        patch_layer, patches, reason = top_patches(net, x)
        if reason is not None:
            left_out[PATCHES_VIEW] = reason
        features = _refused(left_out, FEATURES_VIEW, penultimate_features, net, x)
    # a small folder cannot hold t-SNE's default neighbourhood (perplexity < N is required)
    perplexity = min(perplexity, max(1.0, (len(x) - 1) / 3))
    neighbours, agreement = _neighbours(x, y, features)
    art |= neighbours
    art |= _occlusion(net, shown, shown_y, act_layer or None)
    art |= {
        "activation_image": shown[0].cpu().numpy(),
        "class_names": np.array(ctx.class_names(net), dtype=str),
        "layers": np.array([act_layer, patch_layer], dtype=str),
    }
    if act_layer:
        art["activations"] = activation_grid(activations(net, shown[:1], act_layer)).cpu().numpy()
    if patches is not None:
        art |= {"patches": patches.patches.cpu().numpy(),
                "patch_values": patches.values.cpu().numpy(),
                "patch_inside": patches.inside.cpu().numpy()}
    if features is not None:
        art["embedding"] = tsne_embedding(features, seed=seed, perplexity=perplexity)
    base = {"model_label": net.label, "method": "views"}
    rows = [{**base, "metric": NEIGHBOUR_AGREEMENT_PIXELS, "value": agreement[1]}]
    if features is not None:
        rows += [{**base, "metric": NEIGHBOUR_AGREEMENT_FEATURES, "value": agreement[0]},
                 {**base, "metric": TSNE_PERPLEXITY, "value": float(perplexity)}]
    if patches is not None:
        rows.append({**base, "metric": RECEPTIVE_FIELD,
                     "value": float(patches.receptive_field.size[0]), "layer": patch_layer})
    rows += [{**base, "metric": LEFT_OUT, "value": 1.0, VIEW: view, "reason": reason}
             for view, reason in left_out.items()]
    return JobOutput(rows, {VIEWS: art})


def _refused(left_out: dict[str, str], view: str, fn: Any, *args: Any) -> Any:
    """``fn(*args)``, or ``None`` with the view left out when ``fn`` refuses the model (a
    ``ValueError``: no convolution, no ``nn.Linear`` to read features before)."""
    try:
        return fn(*args)
    except ValueError as err:
        left_out[view] = str(err)
        return None


def top_patches(net: zoo.Classifier, x: torch.Tensor) -> tuple[str, MaxPatches | None,
                                                                   str | None]:
    """The layer of the patch view, its top patches, and why there are none (or ``None``).

    The layer is the deepest convolution (its activation) whose units see less than the
    whole image, walking back from the last one: behind a global-pooling gate (squeeze and
    excitation) every unit sees the whole image, and such a patch is the image itself. When
    no field is smaller than the image, the deepest one that could be measured; when none
    could be (every unit sees the whole image), no patches, with the last convolution's
    reason."""
    candidates = conv_activations(net)
    if not candidates:
        return "", None, "the model has no convolutional layer"
    height, width = x.shape[-2:]
    chosen, first_error = None, None
    for layer in reversed(candidates):
        try:
            field = receptive_field(net, layer, tuple(x.shape[1:]),
                                    largest=PROBE_FACTOR * max(height, width))
        except ValueError as err:
            first_error = first_error or str(err)
            continue
        chosen = chosen or layer
        if field.size[0] < height and field.size[1] < width:
            chosen = layer
            break
    if chosen is None:
        return candidates[-1], None, first_error
    channels = min(PATCH_CHANNELS, output_shape(net, chosen)[0])
    return chosen, max_patches(net, x, chosen, list(range(channels)),
                               k=min(PATCHES, len(x))), None


def _neighbours(x: torch.Tensor, y: torch.Tensor, features: torch.Tensor | None
                ) -> tuple[dict[str, np.ndarray], tuple[float | None, float]]:
    """The first queries' nearest neighbours in feature (when there are features) and in
    pixel space, and over every image the share of neighbours with the query's class in each
    (how well each space groups the classes)."""
    # every image is a query; k + 1 because each finds itself first
    k = min(NEIGHBOURS, len(x) - 1)
    by_pixel = nearest_neighbours(x, x, k=k + 1)[0][:, 1:].cpu()
    labels, images = y.cpu(), x.cpu()
    art = {
        "labels": labels.numpy(),
        "queries": images[:QUERIES].numpy(),  # (Q, C, H, W)
        "pixel_neighbours": images[by_pixel[:QUERIES]].numpy(),  # (Q, k, C, H, W)
    }
    pixels = float((labels[by_pixel] == labels[:, None]).float().mean())
    if features is None:
        return art, (None, pixels)
    by_feature = nearest_neighbours(features, features, k=k + 1)[0][:, 1:].cpu()
    art["feature_neighbours"] = images[by_feature[:QUERIES]].numpy()
    return art, (float((labels[by_feature] == labels[:, None]).float().mean()), pixels)


def _occlusion(net: zoo.Classifier, shown: torch.Tensor, shown_y: torch.Tensor,
               act_layer: str | None) -> dict[str, Any]:
    """The true class's probability as a grey square covers each position of the shown
    images, and (with a first layer to read) each first-layer channel's mean response to the
    same square on the first."""
    side = shown.shape[-1]
    # a quarter of the side: big enough to hide a stroke or a corner of the object
    window, stride = max(2, side // 4), max(1, side // 14)
    grid_side = (side - window) // stride + 1
    occluded = occlusion_probability_map(net, shown, shown_y, window=window, stride=stride)
    art = {"occluded_images": shown.cpu().numpy(), "occlusion": occluded.cpu().numpy()}
    if act_layer is not None:
        # the live-neuron demo: each channel's mean response as the same grey square moves
        moved = occluded_activations(net, shown[:1], act_layer, window=window, stride=stride)
        art["occluded_activations"] = moved.T.reshape(-1, grid_side, grid_side).cpu().numpy()
    return art
