"""generative: images made by optimisation (class models, neuron visualisation, feature
inversion, DeepDream, style transfer), one method per file, all in pixel space, each
returning a ``GenResult``."""

from generative.optimise import OPTIMIZERS, Trace, optimise_image
from generative.registry import GenInfo, get_method, list_methods, register
from generative.result import GenResult

__all__ = [
    "OPTIMIZERS", "GenInfo", "GenResult", "Trace", "get_method", "list_methods",
    "optimise_image", "register",
]
