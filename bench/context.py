"""What jobs share within one run: the device, models and data loaded once and cached, and the
few ways jobs pick their inputs (a seeded sample, correctly classified examples, images of a
given size)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch
from torchvision.transforms.v2 import functional as TF

import zoo
from bench.definitions import Definitions
from bench.user_assets import fit_labels, folder_info, load_defined_model, read_folder
from zoo.checkpoint import file_sha256
from zoo.errors import UserError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: the photos colour models are dreamed and stylised on: content first, style texture second
CONTENT_PHOTO, STYLE_PHOTO = "chelsea", "immunohistochemistry"


def weights_seed(seed: int, name: str) -> int:
    """The seed of a random-weight model's initial weights: from the suite's seed and the
    model's name (as the suite names it), through sha256, which is the same in every process
    (Python's ``hash`` of a string is salted per process)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: any torch.manual_seed takes it


def state_sha256(module: torch.nn.Module) -> str:
    """sha256 of a module's weights and buffers (names, dtypes, shapes and bytes, in the state
    dict's order): the hash of weights that have no file, on any device."""
    digest = hashlib.sha256()
    for key, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda`` (or ``cuda:N``), or ``auto``: CUDA when there is one."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"device {device!r} asked for, but CUDA is not available here")
        return torch.device(device)
    raise UserError(f"device must be cpu, cuda or auto, got {device!r}")


@dataclass
class RunContext:
    """Models and datasets for the jobs of one run, each loaded once onto ``device``.

    The harness puts every model in eval mode here; methods never switch modes themselves.
    """

    device: torch.device
    #: the suite's own models and image folders (``[models.*]``, ``[data.*]``)
    definitions: Definitions = field(default_factory=Definitions)
    seed: int = 0  # the suite's seed: it draws the per-class sample of a user folder
    #: what the report says about each user folder (source, images, skipped files...)
    data_info: dict[str, dict[str, object]] = field(default_factory=dict)
    _models: dict[tuple[str, str | None], zoo.Classifier] = field(default_factory=dict)
    _data: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    _hashes: dict[str, str] = field(default_factory=dict)
    _folders: dict[str, zoo.ImageFolderData] = field(default_factory=dict)
    #: the names shown for a model's classes when its folder names them and it does not
    _class_names: dict[str, list[str]] = field(default_factory=dict)
    #: models whose weights file was missing and that run with random weights instead
    missing_weights: set[str] = field(default_factory=set)
    #: where the running job is (``"grad_cam 3/7"``): the runner shows it beside the job's
    #: name, so a long job does not look stuck
    on_step: Callable[[str], None] | None = None

    def model(self, name: str, weights: str | None = None) -> zoo.Classifier:
        key = (name, weights)
        if key not in self._models:
            definition = self.definitions.models.get(name)
            # random weights come from the suite's seed and the model's name, the same in
            # every process; loading draws nothing from the caller's RNG
            seed = weights_seed(self.seed, name)
            with torch.random.fork_rng(devices=[]):
                if definition is not None:
                    model = load_defined_model(definition, seed=seed)
                else:
                    model = zoo.load_model(name, weights=weights, seed=seed)
            model = model.to(self.device).eval()
            for p in model.parameters():
                # jobs need input gradients only; parameter grads would just cost time
                p.requires_grad_(False)
            if definition is not None and definition.data is not None:
                self._fit_data(definition.data, model)
            self._models[key] = model
        return self._models[key]

    def model_or_random(self, name: str, weights: str | None = None) -> zoo.Classifier:
        """The model with its weights; a torchvision model whose weights file is missing runs
        with random weights instead, and its label says so (a stress test measures cost and
        numerical health, which random weights still exercise)."""
        if name in self.missing_weights and weights is None:
            return self.model(name, "random")
        try:
            return self.model(name, weights)
        except FileNotFoundError as err:
            if not name.startswith("tv:") or weights is not None:
                raise
            log.warning("%s; running %s with random weights", str(err).rstrip("."), name)
            self.missing_weights.add(name)  # said once per run, not once per job
            return self.model(name, "random")

    def class_names(self, model: zoo.Classifier) -> list[str]:
        """The names to show for the model's outputs: its own, or its folder's."""
        return self._class_names.get(model.name, list(model.class_names))

    def _fit_data(self, name: str, model: zoo.Classifier) -> None:
        """Read a user folder for the first model that uses it; a later user must take the
        same input shape and class order."""
        definition = self.definitions.data[name]
        if name not in self._folders:
            self._folders[name] = read_folder(definition, model.input_shape, seed=self.seed,
                                              num_classes=model.num_classes)
        folder = self._folders[name]
        if tuple(folder.x.shape[1:]) != model.input_shape:
            raise UserError(
                f"[data.{name}] was read at {tuple(folder.x.shape[1:])} for another model, but "
                f"{model.name!r} takes {model.input_shape}; declare one [data.*] table per "
                "input size")
        y, names, notes = fit_labels(folder, model, name)
        self._class_names[model.name] = names
        if name in self._data:
            if not torch.equal(self._data[name][1].cpu(), y):
                raise UserError(f"[data.{name}] maps to other classes for {model.name!r} than "
                                 "for the model that read it first; declare a [data.*] table "
                                 "per model")
            return
        self._data[name] = (folder.x.to(self.device), y.to(self.device))
        self.data_info[name] = folder_info(definition, folder, notes)

    def weights_sha256(self, model: zoo.Classifier) -> str:
        """Short hash of the weights a model runs with: of its weights file, or of the weights
        themselves when they are random ("" for hand-set weights with no file)."""
        if model.random_weights:
            key = f"random weights of {model.name}"  # one model per name: its seed's
            if key not in self._hashes:
                self._hashes[key] = state_sha256(model.net)[:12]
            return self._hashes[key]
        if not model.weights:
            return ""
        if model.weights not in self._hashes:
            self._hashes[model.weights] = file_sha256(Path(model.weights))[:12]
        return self._hashes[model.weights]

    def dataset(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if name not in self._data and name in self.definitions.data:
            users = self.definitions.users_of(name)
            if not users:
                raise UserError(f"[data.{name}] is used by no [models.*] table")
            self.model(users[0])  # reads the folder at that model's input size
        if name not in self._data:
            x, y = zoo.load_dataset(name, "test")
            self._data[name] = (x.to(self.device), y.to(self.device))
        return self._data[name]

    def sample(self, name: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` test images drawn without replacement by ``seed``, so a suite's seed picks its
        sample. The same (n, seed) gives the same images on any device, and a larger n extends
        a smaller one's draw.
        """
        x, y = self.dataset(name)
        if n > len(x):
            log.warning("n=%d exceeds the %d test images of %s; using all", n, len(x), name)
        order = self.sample_order(len(x), n, seed).to(x.device)
        return x[order], y[order]

    def sample_masks(self, name: str, n: int, seed: int) -> torch.Tensor:
        """The object masks of the images ``sample(name, n, seed)`` returns."""
        masks = zoo.load_masks(name, "test")
        return masks[self.sample_order(len(masks), n, seed)].to(self.device)

    @staticmethod
    def sample_order(size: int, n: int, seed: int) -> torch.Tensor:
        return torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n]

    def examples(self, model: zoo.Classifier, dataset: str, n: int, seed: int, *,
                 candidates: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Up to ``n`` images of distinct classes (0, 1, 2, ...) that the model gets right,
        searched among ``candidates`` sampled test images.

        An example the model already misclassifies shows nothing about an attack or a map,
        so those are used only when too few correct ones exist (a random-weight model).
        """
        x, y = self.sample(dataset, max(candidates, n), seed)
        with torch.no_grad():
            pred = model(x).argmax(dim=1)
        chosen: list[int] = []
        for c in range(model.num_classes):
            hits = ((y == c) & (pred == c)).nonzero().flatten()
            if len(hits):
                chosen.append(int(hits[0]))
            if len(chosen) == n:
                break
        rest = [i for i in range(len(x)) if i not in chosen]
        chosen += rest[: n - len(chosen)]
        index = torch.tensor(chosen, device=x.device)
        return x[index], y[index]

    def images_at(self, model: zoo.Classifier, size: int, count: int = 2,
                  dataset: str | None = None) -> torch.Tensor:
        """``count`` images at ``size`` for the image methods: photos for colour models (the
        content photo first, the style texture second), else the model's own test images (a
        user folder's first images, resized)."""
        channels = model.input_shape[0]
        if channels == 3:
            names = [CONTENT_PHOTO, STYLE_PHOTO, *zoo.PHOTOS][:count]
            return torch.stack([zoo.load_photo(n, size) for n in names]).to(self.device)
        if dataset is not None and dataset in self.definitions.data:
            x = self.dataset(dataset)[0][:count]
            return TF.resize(x, [size, size], antialias=True).clamp(0, 1)
        x, _ = zoo.load_dataset(zoo.model_spec(model.name).dataset, "test", size=size)
        return x[:count].to(self.device)

    def generator(self, seed: int) -> torch.Generator:
        """A fresh generator on the run's device, so a job's randomness is its own."""
        return torch.Generator(device=self.device).manual_seed(seed)

    def steps(self, items: Iterable[T], what: str = "") -> Iterator[T]:
        """``items`` one by one, telling ``on_step`` which (``"saliency 1/7"``, after
        ``what`` when given)."""
        items = list(items)
        for i, item in enumerate(items, 1):
            if self.on_step is not None:
                self.on_step(f"{what} {item} {i}/{len(items)}".lstrip())
            yield item

    def sync(self) -> None:
        """Wait for queued GPU work, so a job's seconds include it."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
