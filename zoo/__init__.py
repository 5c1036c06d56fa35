"""zoo: the models and data auditbench audits, and the plumbing that holds a model safely."""

from zoo.checks import (
    check_choice,
    check_count,
    check_eps_grid,
    check_generator,
    check_images,
    check_labels,
    check_nonnegative,
)
from zoo.class_names import load_class_names
from zoo.datasets import (
    BUNDLED_PHOTOS,
    DATASETS,
    PHOTOS,
    list_datasets,
    load_dataset,
    load_masks,
    load_photo,
)
from zoo.guard import ModelState, check_model, frozen_parameters, num_classes, warn_if_training
from zoo.hooks import HookSet, find_modules, get_layer
from zoo.image_folder import ImageFolderData, load_image_folder
from zoo.layers import feature_layers
from zoo.models import build_model, list_models, load_model, model_spec, register_model
from zoo.normalize import Classifier, Normalize

__all__ = [
    "BUNDLED_PHOTOS", "Classifier", "DATASETS", "HookSet", "ImageFolderData", "ModelState",
    "Normalize", "PHOTOS", "build_model", "check_choice", "check_count", "check_eps_grid",
    "check_generator", "check_images", "check_labels", "check_model", "check_nonnegative",
    "feature_layers", "find_modules", "frozen_parameters", "get_layer", "list_datasets",
    "list_models", "load_class_names", "load_dataset", "load_image_folder", "load_masks",
    "load_model", "load_photo", "model_spec", "num_classes", "register_model", "warn_if_training",
]
