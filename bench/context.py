"""What jobs share within one run: the device, and models and data loaded once and cached."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

import zoo
from zoo.checkpoint import file_sha256

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda`` (or ``cuda:N``), or ``auto``: CUDA when there is one."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but CUDA is not available here")
        return torch.device(device)
    raise ValueError(f"device must be cpu, cuda or auto, got {device!r}")


@dataclass
class RunContext:
    """Models and datasets for the jobs of one run, each loaded once onto ``device``.

    The harness puts every model in eval mode here; methods never switch modes themselves.
    """

    device: torch.device
    _models: dict[tuple[str, str | None], zoo.Classifier] = field(default_factory=dict)
    _data: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    _hashes: dict[str, str] = field(default_factory=dict)
    #: models whose weights file was missing and that run with random weights instead
    missing_weights: set[str] = field(default_factory=set)

    def model(self, name: str, weights: str | None = None) -> zoo.Classifier:
        key = (name, weights)
        if key not in self._models:
            model = zoo.load_model(name, weights=weights).to(self.device)
            model.eval()
            for p in model.parameters():
                # jobs need input gradients only; parameter grads would just cost time
                p.requires_grad_(False)
            self._models[key] = model
        return self._models[key]

    def weights_sha256(self, model: zoo.Classifier) -> str:
        """Short hash of the weights file behind a model ("" for random weights)."""
        if not model.weights:
            return ""
        if model.weights not in self._hashes:
            self._hashes[model.weights] = file_sha256(Path(model.weights))[:12]
        return self._hashes[model.weights]

    def dataset(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
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

    def generator(self, seed: int) -> torch.Generator:
        """A fresh generator on the run's device, so a job's randomness is its own."""
        return torch.Generator(device=self.device).manual_seed(seed)

    def sync(self) -> None:
        """Wait for queued GPU work, so a job's seconds include it."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
