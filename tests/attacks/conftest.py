"""Shared fixtures for the attacks tests: shipped models, a slice of MNIST, and small model
wrappers that count or break forward passes."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

import attacks
import zoo
from tests.helpers import CountingModel
from tests.helpers import raising_model as RaisingModel
from zoo.params import Work


@pytest.fixture(scope="session")
def mnist() -> tuple[torch.Tensor, torch.Tensor]:
    """The mnist5k test split, 1,000 images, interleaved so that any prefix ``[:n]`` is
    exactly class-balanced (the split's own order is only a random sample; the thresholds
    in these tests were measured on the balanced prefixes)."""
    x, y = zoo.load_dataset("mnist5k", "test")
    order = torch.argsort(y, stable=True).view(10, -1).T.flatten()  # 0, 1, ..., 9, 0, 1, ...
    return x[order].contiguous(), y[order].contiguous()


@pytest.fixture(scope="session")
def cnn() -> nn.Module:
    """The shipped natural CNN, shared: every attack promises to leave it as it found it."""
    return zoo.load_model("mnist_cnn")


@pytest.fixture(scope="session")
def cnn_at() -> nn.Module:
    return zoo.load_model("mnist_cnn_at")


@pytest.fixture(scope="session")
def logreg() -> nn.Module:
    return zoo.load_model("mnist_logreg")


def is_targeted_only(info: attacks.AttackInfo) -> bool:
    """Attacks whose label argument is a target (``fool``) rather than the true class."""
    return info.targeted_only


def attack_kwargs(
    info: attacks.AttackInfo, *, eps: float, norm: str = "linf", steps: int = 3, seed: int = 0
) -> dict[str, Any]:
    """Keyword arguments to call any registered attack with a small budget: ``steps`` for
    every parameter marked ``Work``."""
    params = inspect.signature(info.fn).parameters
    kwargs: dict[str, Any] = {"eps": eps}
    if info.iterative:
        kwargs["steps"] = steps
    for name, param in info.settings.items():
        if param.has(Work):  # any other count of work (Square's ``queries``) gets it too
            kwargs[name] = steps
    if info.takes("alpha"):
        kwargs["alpha"] = eps / 2
    if info.random:
        kwargs["generator"] = torch.Generator().manual_seed(seed)
        if info.minimal and info.takes("restarts"):
            kwargs["restarts"] = 2  # FAB's first run starts at x: only later runs draw
    if info.takes("lr"):  # CW's Adam: a learning rate for a few steps, as alpha above
        kwargs["lr"] = 0.5
    if "norm" in params:  # an L2-only attack (CW) gets its norm
        kwargs["norm"] = norm if norm in info.norms else info.norms[0]
    if info.takes("surrogate"):  # transfer: made on a copy of the CNN, in two runs, so the
        # model is queried twice (the error-path tests fail its second pass)
        kwargs.update(surrogate=zoo.load_model("mnist_cnn"), restarts=2)
    return kwargs


def labels_for(info: attacks.AttackInfo, y: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """The labels to pass: the true class, or another class for targeted-only attacks."""
    return (y + 1) % classes if is_targeted_only(info) else y


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (importing conftest by name is fragile)."""
    return SimpleNamespace(
        CountingModel=CountingModel, RaisingModel=RaisingModel, attack_kwargs=attack_kwargs,
        labels_for=labels_for, is_targeted_only=is_targeted_only,
    )
