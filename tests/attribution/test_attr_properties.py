"""The attribution contract as properties over random inputs (hypothesis): for any batch
size, channel count, image side, dtype and target, every method returns a finite, detached
map shaped like the input (Grad-CAM: one channel, at the input's side) in the input's dtype,
leaves x, the target and the model as found, and the stochastic ones (SmoothGrad) are fixed
by the generator's seed. Tiny models built here keep each example to milliseconds; the
settings are the shared ones of ``tests/attribution/conftest.py``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import attribution
import zoo

METHODS = ["saliency", "integrated_gradients", "smoothgrad", "guided_backprop", "deconvnet",
           "occlusion", "grad_cam"]
CLASSES = 4
SMALL = settings(max_examples=8, deadline=None, derandomize=True)


@dataclass(frozen=True)
class Example:
    model: nn.Module
    x: torch.Tensor
    target: int | torch.Tensor


def tiny_model(channels: int, side: int, dtype: torch.dtype, seed: int) -> nn.Sequential:
    """conv 3x3 -> ReLU -> linear, seeded, in eval mode; its conv is named as the shared
    ``TinyCNN``'s last one, so the shared test settings (``kit.method_kwargs``) apply."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = nn.Sequential(OrderedDict(
            conv2=nn.Conv2d(channels, 3, 3, padding=1), relu=nn.ReLU(), flat=nn.Flatten(),
            fc=nn.Linear(3 * side * side, CLASSES)))
    return model.to(dtype).eval()


@st.composite
def examples(draw: st.DrawFn) -> Example:
    n = draw(st.integers(1, 4))
    channels = draw(st.sampled_from([1, 3]))
    side = draw(st.integers(8, 20))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, side, side, generator=g, dtype=dtype)
    # one class for the batch, or one per image
    target: int | torch.Tensor = draw(st.one_of(
        st.integers(0, CLASSES - 1),
        st.just(torch.randint(0, CLASSES, (n,), generator=g))))
    return Example(tiny_model(channels, side, dtype, seed), x, target)


def explain(kit: SimpleNamespace, name: str, ex: Example, seed: int = 0) -> torch.Tensor:
    """``name`` with the shared small settings (occlusion: a 4-pixel window, stride 3)."""
    method = attribution.get_method(name)
    return method(ex.model, ex.x, ex.target, **kit.method_kwargs(name, "tiny", seed))


def test_every_registered_method_is_covered() -> None:
    # a new method gets its settings in kwargs_for (the test fails until then)
    assert set(attribution.list_methods()) == set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_map_shaped_finite_detached_and_nothing_changed(kit, name: str) -> None:
    @SMALL
    @given(ex=examples())
    def check(ex: Example) -> None:
        x0 = ex.x.clone()
        t0 = ex.target.clone() if isinstance(ex.target, torch.Tensor) else ex.target
        before = zoo.ModelState.capture(ex.model)
        out = explain(kit, name, ex)
        n, c, h, w = ex.x.shape
        assert out.shape == ((n, 1, h, w) if name == "grad_cam" else (n, c, h, w))
        assert out.dtype == ex.x.dtype
        assert torch.isfinite(out).all()
        assert not out.requires_grad and out.grad_fn is None
        assert torch.equal(ex.x, x0) and not ex.x.requires_grad and ex.x.grad is None
        if isinstance(t0, torch.Tensor):
            assert torch.equal(ex.target, t0)
        assert before.differences(zoo.ModelState.capture(ex.model)) == []

    check()


@pytest.mark.parametrize("name", METHODS)
def test_same_generator_seed_same_output(kit, name: str) -> None:
    # deterministic methods must give the same map twice; SmoothGrad given the same seed
    @settings(max_examples=4, deadline=None, derandomize=True)
    @given(ex=examples(), seed=st.integers(0, 2**31 - 1))
    def check(ex: Example, seed: int) -> None:
        assert torch.equal(explain(kit, name, ex, seed), explain(kit, name, ex, seed))

    check()


def test_the_generator_decides_smoothgrad_noise(kit) -> None:
    # and the seed is really used: another seed, another map
    ex = Example(tiny_model(1, 10, torch.float32, 0),
                 torch.rand(2, 1, 10, 10, generator=torch.Generator().manual_seed(1)), 1)
    assert not torch.equal(explain(kit, "smoothgrad", ex, 1), explain(kit, "smoothgrad", ex, 2))
