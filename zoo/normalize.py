"""Dataset normalisation as a module inside the model, so every method works in pixel space.

``Classifier`` is what ``zoo.load_model`` returns: ``[0, 1]`` pixels in, logits out, with the
metadata the harness and the report need (name, classes, input shape, provenance of weights).
A network that returns more than its logits is wrapped with ``output=`` (``zoo.outputs``),
which picks the logits inside ``forward``: every method sees a plain ``(N, K)`` tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from zoo.outputs import Output, check_output, select_output


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel; the statistics are buffers, so they follow ``.to()``."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ValueError(f"mean and std need one positive std per channel: {mean}, {std}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


class Classifier(nn.Module):
    """A network preceded by its input normalisation, plus what the suite needs to know of it.

    ``output``: where the logits are in what ``net`` returns (``select_output``); ``None``
    when ``net`` returns them as a tensor.

    Shape:
        - input: ``(N, C, H, W)`` pixels in ``[0, 1]``
        - output: ``(N, num_classes)`` logits
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        mean: Sequence[float],
        std: Sequence[float],
        num_classes: int,
        input_shape: tuple[int, int, int],
        name: str,
        class_names: Sequence[str] | None = None,
        weights: str = "",
        random_weights: bool = False,
        output: Output = None,
    ) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net
        self.num_classes = num_classes
        self.input_shape = input_shape
        self.name = name
        self.source = name  # what it was loaded from; a suite's [models.NAME] renames it
        default_names = [str(i) for i in range(num_classes)]
        self.class_names = list(class_names) if class_names else default_names
        self.weights = weights
        self.random_weights = random_weights
        self.output = check_output(output)
        # set by zoo.user_models when the network ends in a softmax: attacks are then weaker
        self.outputs_probabilities = False

    @property
    def label(self) -> str:
        """The name to show wherever this model appears; random weights are always said so."""
        return f"{self.name} (random weights)" if self.random_weights else self.name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return select_output(self.net(self.normalize(x)), self.output)
