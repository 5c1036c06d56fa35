"""Minimal perturbations (``attacks.minimal``): the norms, the curve read off them and the
quantiles, checked by hand on an affine two-class model whose smallest L2 perturbation is
known in closed form, with a minimal attack registered by the test itself."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import attacks
from attacks.common import Norm, check_attack_inputs, within_budget
from attacks.minimal import minimal_only, minimal_perturbation
from attacks.registry import register, unregister
from zoo.params import NonNegative


class Affine(nn.Module):
    """Two logits ``(0, w . x + b)``: class 1 iff ``w . x + b > 0``."""

    num_classes = 2

    def __init__(self, w: torch.Tensor, b: float) -> None:
        super().__init__()
        self.w, self.b = nn.Parameter(w), nn.Parameter(torch.tensor(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x.flatten(1) @ self.w.flatten() + self.b
        return torch.stack([torch.zeros_like(f), f], dim=1)


def _project_to_boundary(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                         eps: NonNegative | None = None, norm: Norm = "l2",
                         overshoot: NonNegative = 1e-3) -> torch.Tensor:
    """The exact smallest L2 step across an ``Affine`` model's boundary (times
    ``1 + overshoot``), for examples the test keeps inside the box."""
    model, x, y = check_attack_inputs(model, x, y, "boundary")
    x_var = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x_var)
        f = logits[:, 1] - logits[:, 0]
        (w,) = torch.autograd.grad(f.sum(), x_var)  # the same w on every row
    w = w.flatten(1)
    step = -(f.detach() / (w * w).sum(dim=1))[:, None] * w * (1 + overshoot)
    return within_budget(x, (x.flatten(1) + step).view_as(x), eps, norm)


@pytest.fixture()
def boundary():
    register("test_boundary", paper="closed form")(_project_to_boundary)
    yield "test_boundary"
    unregister("test_boundary")


def _setup() -> tuple[Affine, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(1, 4, 4, generator=g) * 0.3
    model = Affine(w, 0.0).eval()
    x = 0.4 + 0.2 * torch.rand(12, 1, 4, 4, generator=g)  # away from the box's walls
    f = x.flatten(1) @ w.flatten()
    y = (f > 0).long()
    y[:2] = 1 - y[:2]  # two examples the model gets wrong
    distance = f.abs() / w.norm()
    return model, x, y, distance


def test_registry_knows_minimal_attacks(boundary) -> None:
    assert attacks.get_attack(boundary).minimal
    assert not attacks.get_attack("pgd").minimal
    with pytest.raises(ValueError, match="not a minimal-perturbation attack"):
        minimal_only("pgd")


def test_norms_curve_and_quantiles_by_hand(boundary) -> None:
    model, x, y, distance = _setup()
    x0, params = x.clone(), [p.detach().clone() for p in model.parameters()]
    result = minimal_perturbation(model, x, y, attack=boundary, norm="l2")
    assert torch.equal(x, x0)
    assert all(torch.equal(a, b) for a, b in zip(params, model.parameters(), strict=True))
    assert result.clean_correct.tolist() == [False, False] + [True] * 10
    assert result.norms[:2].tolist() == [0.0, 0.0]
    torch.testing.assert_close(result.norms[2:], (distance[2:] * 1.001).double(),
                               rtol=1e-5, atol=1e-6)
    assert result.success_rate == 1.0
    # the curve read off the norms: robust at eps iff clean-correct and the norm exceeds eps
    grid = [0.0, float(result.norms[2:].median()), 10.0]
    expected = [10 / 12, float((result.norms[2:] > grid[1]).sum()) / 12, 0.0]
    assert result.accuracy(grid) == pytest.approx(expected)
    fooled_at = result.fooled_at(grid)
    assert fooled_at[:2].tolist() == [-1, -1]
    for i in range(2, 12):
        first = next(k for k, e in enumerate(grid) if float(result.norms[i]) <= e + 1e-6)
        assert int(fooled_at[i]) == first
    q = result.quantiles()
    assert q is not None and q[0.5] == pytest.approx(
        float(torch.quantile(result.norms[2:], 0.5, interpolation="lower")))


def test_an_attack_that_gives_up_counts_as_not_found() -> None:
    def give_up(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                eps: NonNegative | None = None) -> torch.Tensor:
        return x.detach().clone()

    register("test_give_up", paper="none")(give_up)
    try:
        model, x, y, _ = _setup()
        result = minimal_perturbation(model, x, y, attack="test_give_up", norm="linf")
    finally:
        unregister("test_give_up")
    assert result.success_rate == 0.0 and bool(torch.isinf(result.norms[2:]).all())
    assert result.accuracy([0.0, 1.0]) == pytest.approx([10 / 12, 10 / 12])
    assert (result.quantiles() or {})[0.5] == math.inf


def test_bad_input_is_refused_before_work(boundary) -> None:
    model, x, y, _ = _setup()
    with pytest.raises(ValueError, match="norm"):
        minimal_perturbation(model, x, y, attack=boundary, norm="l1")
    with pytest.raises(KeyError):
        minimal_perturbation(model, x, y, attack="no_such_attack")
    with pytest.raises(ValueError, match="overshoot"):
        minimal_perturbation(model, x, y, attack=boundary, overshoot=-1.0)
