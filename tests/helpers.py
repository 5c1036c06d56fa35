"""Model wrappers the tests of every package share: count forward passes (to prove a check ran
before any work), fail on a chosen pass (to test error paths mid-run), or poison the input
with NaN from a chosen pass on (to test that a blow-up is reported, not hidden)."""

from __future__ import annotations

import torch
from torch import nn

from zoo.guard import num_classes


class CountingModel(nn.Module):
    """Forwards to ``model`` (so its layers are ``model.<name>``) and counts calls.

    ``fail_at``: raise ``RuntimeError`` on that call (1-based); ``nan_after``: from call
    ``nan_after + 1`` on, the input is replaced by NaN. The wrapper keeps the model's
    ``num_classes``, ``input_shape`` and training flag.
    """

    def __init__(self, model: nn.Module, *, fail_at: int | None = None,
                 nan_after: int | None = None) -> None:
        super().__init__()
        self.model = model
        self.calls = 0
        self.fail_at, self.nan_after = fail_at, nan_after
        self.num_classes = num_classes(model)
        shape = getattr(model, "input_shape", None)
        if shape is not None:
            self.input_shape = shape
        self.training = model.training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise RuntimeError("forward failed on purpose")
        if self.nan_after is not None and self.calls > self.nan_after:
            x = x * torch.nan
        return self.model(x)


def raising_model(model: nn.Module, fail_at: int = 2) -> CountingModel:
    """A ``CountingModel`` that fails on call ``fail_at``."""
    return CountingModel(model, fail_at=fail_at)
