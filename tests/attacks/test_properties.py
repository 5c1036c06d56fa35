"""The attack contract as properties over random inputs (hypothesis): for any batch size,
channel count, image side, budget and dtype, the output lies in the eps-ball around x and in
[0, 1], keeps x's shape and dtype, is detached, leaves x, y and the model as found, and is
fixed by the generator's seed. ``test_invariants`` checks the same on MNIST at fixed sizes;
here the shapes and budgets vary, on tiny models that cost milliseconds per example.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import attacks
import zoo

ATTACKS = [(name, norm) for name in ("fgsm", "bim", "pgd", "apgd", "square")
           for norm in attacks.get_attack(name).norms]
IDS = [f"{name}-{norm}" for name, norm in ATTACKS]
CLASSES = 5
#: derandomized: the same examples on every run; few, as each runs an attack
SMALL = settings(max_examples=8, deadline=None, derandomize=True)


@dataclass(frozen=True)
class Example:
    model: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    eps: float


def tiny_model(channels: int, side: int, dtype: torch.dtype, seed: int) -> nn.Module:
    """conv 3x3 -> ReLU -> linear, seeded, in eval mode, in ``dtype``."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                              nn.Linear(4 * side * side, CLASSES))
    return model.to(dtype).eval()


@st.composite
def examples(draw: st.DrawFn, norm: str) -> Example:
    n = draw(st.integers(1, 4))
    channels = draw(st.sampled_from([1, 3]))
    side = draw(st.integers(8, 20))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**16))
    top = 0.5 if norm == "linf" else 3.0  # an L2 ball of 3 reaches across small images
    eps = draw(st.floats(0.0, top, allow_nan=False, allow_subnormal=False))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, side, side, generator=g, dtype=dtype)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    return Example(tiny_model(channels, side, dtype, seed), x, y, eps)


def run(kit: SimpleNamespace, name: str, norm: str, ex: Example, seed: int = 0) -> torch.Tensor:
    info = attacks.get_attack(name)
    kwargs = kit.attack_kwargs(info, eps=ex.eps, norm=norm, steps=2, seed=seed)
    return info(ex.model, ex.x, kit.labels_for(info, ex.y, CLASSES), **kwargs)


def tolerance(dtype: torch.dtype, eps: float) -> float:
    """Float rounding in the projection: a few units in the last place at eps's size."""
    return 8 * torch.finfo(dtype).eps * max(1.0, eps)


@pytest.mark.parametrize(("name", "norm"), ATTACKS, ids=IDS)
def test_output_in_the_ball_and_the_box_and_nothing_changed(kit, name, norm) -> None:
    @SMALL
    @given(ex=examples(norm))
    def check(ex: Example) -> None:
        x0, y0 = ex.x.clone(), ex.y.clone()
        before = zoo.ModelState.capture(ex.model)
        x_adv = run(kit, name, norm, ex)
        assert x_adv.shape == ex.x.shape and x_adv.dtype == ex.x.dtype
        assert not x_adv.requires_grad and x_adv.grad_fn is None
        assert torch.isfinite(x_adv).all()
        assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
        delta = (x_adv - ex.x).flatten(1)
        size = delta.abs().amax(dim=1) if norm == "linf" else delta.norm(dim=1)
        assert float(size.max()) <= ex.eps + tolerance(ex.x.dtype, ex.eps)
        # no side effects: the inputs and everything about the model as found
        assert torch.equal(ex.x, x0) and torch.equal(ex.y, y0)
        assert not ex.x.requires_grad and ex.x.grad is None
        assert before.differences(zoo.ModelState.capture(ex.model)) == []

    check()


@pytest.mark.parametrize(("name", "norm"), ATTACKS, ids=IDS)
def test_same_generator_seed_same_output(kit, name, norm) -> None:
    @settings(max_examples=4, deadline=None, derandomize=True)
    @given(ex=examples(norm), seed=st.integers(0, 2**31 - 1))
    def check(ex: Example, seed: int) -> None:
        first = run(kit, name, norm, ex, seed=seed)
        again = run(kit, name, norm, ex, seed=seed)
        assert torch.equal(first, again)

    check()
