"""The representation space (CS231n lecture 9, after Krizhevsky et al. 2012 and van der
Maaten and Hinton 2008): the penultimate layer's features of a trained network put images of
one class close together, so that nearest neighbours in feature space share a class where
neighbours in pixel space need not, and a t-SNE embedding of the features shows the classes
as clusters."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from attribution.common import check_layer
from attribution.views._common import capture
from zoo.checks import check_images
from zoo.guard import check_model, keeps_buffers, warn_if_training
from zoo.hooks import find_modules
from zoo.params import Layer, NonNegativeInt, PositiveInt, checked


@keeps_buffers
@checked
def penultimate_features(
    model: nn.Module, x: torch.Tensor, *, layer: Layer | None = None,
    batch_size: PositiveInt = 256,
) -> torch.Tensor:
    """The input of the last ``nn.Linear`` (registration order), flattened: the features the
    classifier's final layer separates linearly. ``layer`` names another module whose input
    to take instead. Read with a forward pre-hook, in batches of ``batch_size`` images.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; returns ``(N, D)``, detached.
    """
    model = check_model(model)
    x = check_images(x)
    if layer is None:
        linears = find_modules(model, nn.Linear)
        if not linears:
            raise ValueError("model has no nn.Linear layer; name the layer whose input to "
                             "take with layer=")
        layer, module = linears[-1]
    else:
        module = check_layer(model, layer)
    warn_if_training(model, "penultimate_features")
    parts = [capture(model, module, x[i:i + batch_size], layer, inputs=True).flatten(1)
             for i in range(0, x.shape[0], batch_size)]
    return torch.cat(parts)


def _as_matrix(features: object, name: str) -> np.ndarray:
    """A finite float64 matrix ``(N, D)``; tensors of images ``(N, ...)`` are flattened."""
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    if not isinstance(features, np.ndarray):
        raise ValueError(f"{name} must be a tensor or an array (N, D), "
                         f"got {type(features).__name__}")
    if features.ndim < 2 or features.shape[0] == 0 or features[0].size == 0:
        raise ValueError(f"{name} must have shape (N, D) with N, D >= 1, got {features.shape}")
    if not np.issubdtype(features.dtype, np.number) or np.issubdtype(features.dtype,
                                                                      np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {features.dtype}")
    matrix = features.reshape(features.shape[0], -1).astype(np.float64)
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return matrix


@checked
def tsne_embedding(
    features: torch.Tensor | np.ndarray, *, seed: NonNegativeInt, perplexity: float = 30.0
) -> np.ndarray:
    """A 2-D t-SNE embedding of ``features`` (``sklearn.manifold.TSNE``, PCA initialisation,
    ``random_state=seed``): the same seed gives the same embedding. With PCA initialisation
    scikit-learn 1.9 draws no random numbers, so other seeds give it too; the seed is kept
    so that the call stays reproducible should the initialisation become random.

    Shape:
        - features: ``(N, D)`` (more dimensions are flattened); returns ``(N, 2)`` float64,
          with ``N > perplexity`` as t-SNE requires.
    """
    from sklearn.manifold import TSNE

    matrix = _as_matrix(features, "features")
    if not 0 < perplexity < matrix.shape[0]:
        raise ValueError(f"perplexity must be a number in (0, N) with N = {matrix.shape[0]} "
                         f"points, got {perplexity!r}")
    tsne = TSNE(n_components=2, perplexity=float(perplexity), init="pca",
                learning_rate="auto", random_state=seed)
    return tsne.fit_transform(matrix).astype(np.float64)


def nearest_neighbours(
    features: torch.Tensor | np.ndarray, queries: torch.Tensor | np.ndarray, *, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest rows of ``features`` to each query in Euclidean (L2) distance
    (``sklearn.neighbors.NearestNeighbors``), nearest first. Pass penultimate features for
    neighbours in feature space, or the images themselves (flattened here) for pixel space.
    A query that is itself in ``features`` finds itself first, at distance 0.

    Shape:
        - features: ``(N, D)``; queries: ``(Q, D)``; returns indices ``(Q, k)`` int64 and
          distances ``(Q, k)`` float64.
    """
    from sklearn.neighbors import NearestNeighbors

    bank = _as_matrix(features, "features")
    asked = _as_matrix(queries, "queries")
    if asked.shape[1] != bank.shape[1]:
        raise ValueError(f"queries have {asked.shape[1]} dimensions, features have "
                         f"{bank.shape[1]}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= bank.shape[0]:
        raise ValueError(f"k must be an integer in [1, {bank.shape[0]}], got {k!r}")
    index = NearestNeighbors(n_neighbors=k, metric="euclidean").fit(bank)
    distances, indices = index.kneighbors(asked)
    return torch.from_numpy(indices).long(), torch.from_numpy(distances)
