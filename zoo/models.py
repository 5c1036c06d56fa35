"""The model registry: what ``zoo.load_model`` can build, and where each model's weights live.

- Our own MNIST models (``mnist_logreg``, ``mnist_cnn``, ``mnist_cnn_at``) are trained by
  ``auditbench train NAME`` and shipped as state dicts in ``zoo/weights/``.
- ``module.path:factory``, ``file.py:factory``, ``model.pt2`` and TorchScript files are the
  user's own models (see ``zoo.user_models``).
- ``tv:<arch>`` is any torchvision classifier. Its ImageNet weights come from a file the user
  names, or from the torch hub cache; nothing is ever downloaded. Random weights only when
  asked for with ``weights="random"``, and then the model's label says so.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from zoo.checkpoint import MissingWeightsError, load_weights, read_state_dict
from zoo.errors import UnknownNameError, UserError
from zoo.nets import mnist_cnn_net, mnist_logreg_net, shapes_cnn_net
from zoo.normalize import Classifier
from zoo.outputs import Output
from zoo.registry import Registry
from zoo.shapes import CLASSES as SHAPE_CLASSES
from zoo.user_models import is_user_spec, load_user_model

WEIGHTS_DIR = Path(__file__).parent / "weights"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TV_PREFIX = "tv:"
RANDOM = "random"  # the weights of an untrained model


@dataclass(frozen=True)
class ModelSpec:
    """How to build one shipped model and what it was trained on."""

    name: str
    build: Callable[[], nn.Module]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    input_shape: tuple[int, int, int]
    dataset: str
    description: str
    class_names: tuple[str, ...] = ()

    @property
    def weights_file(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.pt"


MODELS: Registry[ModelSpec] = Registry("model")


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a shipped model (its name cannot look like ``tv:<arch>``: ':' is not allowed)."""
    return MODELS.add(spec.name, spec)


def model_spec(name: str) -> ModelSpec:
    return MODELS.get(name)


def list_models() -> list[str]:
    """Registered model names, plus the ``tv:<arch>`` pattern for torchvision classifiers."""
    return MODELS.names() + [f"{TV_PREFIX}<arch>"]


# MNIST digits are fed as raw pixels: the models learn their own scale, so normalisation is
# the identity. The wrapper is kept so every model has the same structure.
_MNIST = dict(mean=(0.0,), std=(1.0,), num_classes=10, input_shape=(1, 28, 28), dataset="mnist5k")
register_model(ModelSpec("mnist_logreg", mnist_logreg_net, description=(
    "softmax regression on the 784 raw pixels"), **_MNIST))
register_model(ModelSpec("mnist_cnn", mnist_cnn_net, description=(
    "two-conv CNN, natural training"), **_MNIST))
register_model(ModelSpec("mnist_cnn_at", mnist_cnn_net, description=(
    "the same CNN, PGD adversarial training at Linf eps 0.3 (Madry et al. 2018)"), **_MNIST))
# statistics of the 6,000 shapes training images, rounded
register_model(ModelSpec(
    "shapes_cnn", shapes_cnn_net, mean=(0.498, 0.498, 0.497), std=(0.242, 0.242, 0.241),
    num_classes=len(SHAPE_CLASSES), input_shape=(3, 32, 32), dataset="shapes",
    description="four-conv CNN on the procedural shapes, for localisation scores",
    class_names=SHAPE_CLASSES,
))


@contextlib.contextmanager
def random_init(seed: int = 0) -> Iterator[None]:
    """Initialise "random weights" from a fixed seed, so that a random-weight model is the
    same network in every run and process (its results can be compared and resumed); the
    global RNG is restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_model(name: str) -> Classifier:
    """A registered model with freshly initialised weights (for training)."""
    spec = model_spec(name)
    return Classifier(
        spec.build(), mean=spec.mean, std=spec.std, num_classes=spec.num_classes,
        input_shape=spec.input_shape, name=spec.name, class_names=spec.class_names,
    )


def load_model(
    name: str,
    weights: str | Path | None = None,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    input_size: int | Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    output: Output = None,
    seed: int = 0,
) -> Classifier:
    """A model in eval mode mapping ``[0, 1]`` pixels to logits.

    ``name``: a registered model, ``tv:<arch>``, or a user model (``module.path:factory``,
    ``file.py:factory``, a ``.pt2`` export or a TorchScript file; see ``zoo.user_models``,
    which alone takes ``mean``, ``std``, ``input_size``, ``class_names`` and ``output``).
    ``output``: where the logits are when the network returns more than a tensor: an index
    into a tuple (``0`` for ``(logits, features)``), a dict key or an attribute (``"logits"``).
    ``weights``: ``None`` for the shipped (or cached) weights, a path to a state-dict file, or
    ``"random"`` for an untrained model, labelled as such, its weights drawn from ``seed``
    (the same network in every process; the caller's RNG is left as it was).
    """
    if not isinstance(name, str):
        raise UnknownNameError(f"model name must be a string, got {name!r}")
    if is_user_spec(name, registered=name in MODELS):
        return load_user_model(
            name, weights, mean=mean, std=std, input_size=input_size, class_names=class_names,
            output=output,
        )
    if any(v is not None for v in (mean, std, input_size, class_names, output)):
        raise UserError(
            f"mean, std, input_size, class_names and output are for user models; {name!r} has "
            "its own"
        )
    if name.startswith(TV_PREFIX):
        return _load_torchvision(name[len(TV_PREFIX):], weights, seed).eval()
    if weights == RANDOM:
        with random_init(seed):
            model = build_model(name)
        model.random_weights = True
        return model.eval()
    model = build_model(name)
    path = Path(weights) if weights is not None else model_spec(name).weights_file
    if weights is None and not path.is_file():
        raise MissingWeightsError(
            f"shipped weights for {name!r} are missing: expected {path}. "
            f"Recreate them with `auditbench train {name}`."
        )
    load_weights(model.net, read_state_dict(path), str(path))
    model.weights = str(path)
    return model.eval()


def check_model_name(name: str) -> None:
    """Refuse (``UnknownNameError``, with the closest name) a name that is neither a user
    model spec, a shipped model nor ``tv:<arch>`` of a torchvision classifier."""
    if not isinstance(name, str):
        raise UnknownNameError(f"model name must be a string, got {name!r}")
    if name.startswith(TV_PREFIX):
        _check_torchvision(name[len(TV_PREFIX):])
    elif not is_user_spec(name, registered=name in MODELS):
        model_spec(name)  # the registry's error: did you mean, and the names there are


def _check_torchvision(arch: str) -> None:
    import torchvision.models as tvm

    archs = tvm.list_models(module=tvm)
    if arch not in archs:
        # the closest name, and a few examples rather than all 80
        close = difflib.get_close_matches(arch, archs, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownNameError(
            f"unknown torchvision classifier {arch!r}{hint}; e.g. resnet18, vgg16, vit_b_16 "
            f"(torchvision.models.list_models() lists all {len(archs)})"
        )


def _load_torchvision(arch: str, weights: str | Path | None, seed: int) -> Classifier:
    import torchvision.models as tvm

    _check_torchvision(arch)
    random = weights == RANDOM
    default = tvm.get_model_weights(arch).DEFAULT
    categories = list(default.meta.get("categories") or [])
    path = None if random else (Path(weights) if weights is not None
                                else _hub_cache_file(default.url))
    if path is not None and not path.is_file():  # before the network is built: no draw, no wait
        raise MissingWeightsError(
            f"no ImageNet weights for tv:{arch}: expected the file {path} (the torch hub "
            f"cache, where torchvision saves {default.url.rsplit('/', 1)[-1]}). Put the "
            f"file there, pass weights=PATH, or pass weights='random' for an untrained model."
        )
    with random_init(seed) if random else contextlib.nullcontext():
        net = tvm.get_model(arch, weights=None)
    source = ""
    if path is not None:
        load_weights(net, read_state_dict(path), str(path))
        source = str(path)
    size = int(default.transforms().crop_size[0])
    return Classifier(
        net, mean=IMAGENET_MEAN, std=IMAGENET_STD, num_classes=len(categories) or 1000,
        input_shape=(3, size, size), name=f"{TV_PREFIX}{arch}", class_names=categories,
        weights=source, random_weights=random,
    )


def _hub_cache_file(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
