"""Deletion and insertion curves: exact values on a linear-sigmoid model, the batch size
not mattering, saliency beating a random map on mnist_cnn, and the contract."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from torch import nn

import attribution
import zoo
from attribution.metrics import deletion, fragility, insertion, model_randomisation
from tests.test_buffers import RaisesAfterForward, bn_model, data


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


@pytest.fixture
def linear_sigmoid() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """Two logits (0, w.x): the probability of class 1 is sigmoid(w.x); the map is w * x."""
    w = torch.tensor([2.0, -1.0, 8.0, 0.5])
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([torch.zeros(4), w]))
    x = torch.tensor([0.5, 1.0, 0.25, 1.0]).view(1, 1, 2, 2)
    return model.eval(), x, (w * x.flatten()).view(1, 1, 2, 2)  # w * x = 1, -1, 2, 0.5


def test_exact_curves_on_linear_sigmoid(linear_sigmoid) -> None:
    model, x, attr = linear_sigmoid
    # rank order by w * x: 2 (pixel 2), 1 (pixel 0), 0.5 (pixel 3), -1 (pixel 1); sum 2.5
    expected_del = [sigmoid(v) for v in (2.5, 0.5, -0.5, -1.0, 0.0)]
    expected_ins = [sigmoid(v) for v in (0.0, 2.0, 3.0, 3.5, 2.5)]
    d = deletion(model, x, 1, attr, steps=4, baseline=0.0)
    i = insertion(model, x, 1, attr, steps=4, baseline=0.0)
    torch.testing.assert_close(d.fractions, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    torch.testing.assert_close(d.curves, torch.tensor([expected_del]), rtol=0, atol=1e-6)
    torch.testing.assert_close(i.curves, torch.tensor([expected_ins]), rtol=0, atol=1e-6)

    def trapezoid(values: list[float]) -> float:
        return sum((a + b) / 2 * 0.25 for a, b in zip(values, values[1:], strict=False))

    assert d.auc.item() == pytest.approx(trapezoid(expected_del), abs=1e-6)
    assert i.auc.item() == pytest.approx(trapezoid(expected_ins), abs=1e-6)
    # absolute ranking puts pixel 1 (|-1|) ahead of pixel 3 (0.5): deletion order 2, 0, 1, 3
    a = deletion(model, x, 1, attr, steps=4, baseline=0.0, absolute=True)
    expected_abs = [sigmoid(v) for v in (2.5, 0.5, -0.5, 0.5, 0.0)]
    torch.testing.assert_close(a.curves, torch.tensor([expected_abs]), rtol=0, atol=1e-6)


def test_insertion_runs_from_blur_to_the_image(digits, mnist_cnn) -> None:
    x, y = digits[0][:4], digits[1][:4]
    attr = attribution.saliency(mnist_cnn, x, y)
    curve = insertion(mnist_cnn, x, y, attr, steps=5, blur_kernel=11, blur_sigma=5.0)
    with torch.no_grad():
        p_blur = torch.softmax(mnist_cnn(TF.gaussian_blur(x, [11, 11], [5.0, 5.0])), 1)
        p_x = torch.softmax(mnist_cnn(x), 1)
    torch.testing.assert_close(curve.curves[:, 0], p_blur[torch.arange(4), y])
    torch.testing.assert_close(curve.curves[:, -1], p_x[torch.arange(4), y])


def test_batch_size_does_not_change_the_answer(digits, mnist_cnn) -> None:
    x, y = digits[0][:5], digits[1][:5]
    attr = attribution.saliency(mnist_cnn, x, y)
    ref = deletion(mnist_cnn, x, y, attr, steps=6, batch_size=1000)
    for batch_size in (1, 4, 7):
        got = deletion(mnist_cnn, x, y, attr, steps=6, batch_size=batch_size)
        torch.testing.assert_close(got.curves, ref.curves, rtol=0, atol=1e-6)
        got = insertion(mnist_cnn, x, y, attr, steps=6, batch_size=batch_size)
        ref_ins = insertion(mnist_cnn, x, y, attr, steps=6, batch_size=1000)
        torch.testing.assert_close(got.curves, ref_ins.curves, rtol=0, atol=1e-6)


def test_saliency_beats_a_random_map(digits, mnist_cnn) -> None:
    # measured on these 32 digits, steps=20: saliency deletion 0.18 / insertion 0.95,
    # random map 0.78 / 0.81
    x, y = digits
    good = attribution.saliency(mnist_cnn, x, y)
    rand = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))
    kw = {"steps": 20, "absolute": True}
    d_good, d_rand = (deletion(mnist_cnn, x, y, a, **kw).mean_auc for a in (good, rand))
    i_good, i_rand = (insertion(mnist_cnn, x, y, a, **kw).mean_auc for a in (good, rand))
    assert d_good < d_rand - 0.4
    assert i_good > i_rand + 0.08


def test_no_side_effects_and_training_warns(digits, mnist_cnn) -> None:
    x, y = digits[0][:3].clone(), digits[1][:3].clone()
    attr = torch.rand(x.shape, generator=torch.Generator().manual_seed(1))
    copies = (x.clone(), y.clone(), attr.clone())
    before = zoo.ModelState.capture(mnist_cnn)
    deletion(mnist_cnn, x, y, attr, steps=3)
    insertion(mnist_cnn, x, y, attr, steps=3)
    assert before.differences(zoo.ModelState.capture(mnist_cnn)) == []
    for a, b in zip((x, y, attr), copies, strict=True):
        assert torch.equal(a, b)
    mnist_cnn.train()
    try:
        with pytest.warns(RuntimeWarning, match="training mode"):
            deletion(mnist_cnn, x, y, attr, steps=2)
        assert mnist_cnn.training
    finally:
        mnist_cnn.eval()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"baseline": "zeros"}, "baseline"),
        ({"baseline": float("nan")}, "baseline"),
        ({"baseline": torch.zeros(5, 5)}, "baseline"),
        ({"absolute": 1}, "absolute"),
        ({"attribution": torch.zeros(2, 1, 28, 28)}, "attribution"),
        ({"attribution": torch.full((3, 1, 28, 28), float("nan"))}, "attribution"),
        ({"attribution": torch.zeros(3, 1, 14, 14)}, "attribution"),
        ({"target": 10}, "target"),
    ],
)
def test_bad_input_fails_before_any_work(digits, counting, kwargs, match) -> None:
    x, y = digits[0][:3], digits[1][:3]
    args = {"target": y, "attribution": torch.zeros_like(x)}
    args.update(kwargs)
    target, attr = args.pop("target"), args.pop("attribution")
    for fn in (deletion, insertion):
        with warnings.catch_warnings(), pytest.raises(ValueError, match=match):
            fn(counting, x, target, attr, **args)
    assert counting.calls == 0


def _saliency(model: nn.Module, x: torch.Tensor, target: Any) -> torch.Tensor:
    return attribution.saliency(model, x, target)


_MAP = torch.rand(4, 1, 12, 12, generator=torch.Generator().manual_seed(3))

#: every metric that runs a model
METRICS: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], Any]] = {
    "deletion": lambda m, x, y: deletion(m, x, y, _MAP, steps=3),
    "insertion": lambda m, x, y: insertion(m, x, y, _MAP, steps=3),
    "fragility": lambda m, x, y: fragility(m, x, y, _saliency, eps=0.02),
    "model_randomisation": lambda m, x, y: model_randomisation(m, x, y, _saliency),
}


@pytest.mark.parametrize("name", list(METRICS))
def test_metrics_keep_batch_norm_buffers_in_training_mode(name: str) -> None:
    """A batch-norm model in training mode: its running statistics (every buffer) and its
    parameters are as before the metric, after success and when the forward pass raises
    after updating them."""
    x, y = data()
    for model in (bn_model(), RaisesAfterForward(bn_model())):
        before = zoo.ModelState.capture(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(model, RaisesAfterForward):
                with pytest.raises(RuntimeError, match="on purpose"):
                    METRICS[name](model, x, y)
            else:
                METRICS[name](model, x, y)
        assert zoo.ModelState.capture(model).differences(before) == []
