"""Metrics of attribution maps: faithfulness (deletion and insertion, Petsiuk et al. 2018),
the model-randomisation sanity check (Adebayo et al. 2018), localisation against object
masks (mass inside, pointing game), saliency segmentation (Simonyan et al. 2014) and
fragility under small perturbations (Ghorbani et al. 2019). Pure functions returning plain
dataclasses; none changes the model or the inputs."""

from attribution.metrics.deletion import PerturbationCurve, deletion, insertion
from attribution.metrics.fragility import FragilityResult, fragility
from attribution.metrics.localisation import LocalisationResult, localisation
from attribution.metrics.randomisation import (
    RandomisationResult,
    cascade,
    cascade_similarity,
    model_randomisation,
    passes,
)
from attribution.metrics.segmentation import (
    SegmentationResult,
    saliency_segmentation,
    segmentation_iou,
)

__all__ = [
    "FragilityResult", "LocalisationResult", "PerturbationCurve", "RandomisationResult",
    "SegmentationResult", "cascade", "cascade_similarity", "deletion", "fragility", "insertion",
    "localisation", "model_randomisation", "passes",
    "saliency_segmentation", "segmentation_iou",
]
