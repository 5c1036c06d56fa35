"""attribution.views: what a trained network represents (CS231n lecture 9, first part):
first-layer filters, live activations, maximally activating patches with their receptive
fields, the penultimate feature space (t-SNE, nearest neighbours), and occlusion heat maps.
Pure functions returning raw tensors or arrays; scaling and drawing them belongs to the
report (the ``representation`` kind's section)."""

from attribution.views._common import tile
from attribution.views.activations import (
    activation_grid,
    activations,
    occluded_activations,
    occlusion_positions,
)
from attribution.views.filters import first_layer_filters
from attribution.views.max_patches import MaxPatches, ReceptiveField, max_patches, receptive_field
from attribution.views.occlusion_map import occlusion_probability_map
from attribution.views.tsne import nearest_neighbours, penultimate_features, tsne_embedding

__all__ = [
    "MaxPatches", "ReceptiveField", "activation_grid", "activations", "first_layer_filters",
    "max_patches", "nearest_neighbours", "occluded_activations", "occlusion_positions",
    "occlusion_probability_map", "penultimate_features", "receptive_field", "tile",
    "tsne_embedding",
]
