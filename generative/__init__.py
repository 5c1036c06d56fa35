"""generative: images made by optimisation (class models, neuron visualisation, feature
inversion, DeepDream, style transfer), one method per file, all in pixel space, each
returning a ``GenResult``."""

from generative.class_model import class_model
from generative.deep_dream import deep_dream
from generative.inversion import InversionDepth, feature_inversion, inversion_by_depth
from generative.neuron import neuron_visualisation
from generative.optimise import OPTIMIZERS, Trace, optimise_image
from generative.registry import GenInfo, get_method, list_methods, register
from generative.result import GenResult
from generative.style_transfer import gram_matrix, style_transfer

__all__ = [
    "OPTIMIZERS", "GenInfo", "GenResult", "InversionDepth", "Trace", "class_model",
    "deep_dream", "feature_inversion", "get_method", "gram_matrix", "inversion_by_depth",
    "list_methods", "neuron_visualisation", "optimise_image", "register", "style_transfer",
]
