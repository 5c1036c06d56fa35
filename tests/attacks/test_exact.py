"""Exact values: the lecture's linear toy, FGSM on a hand-weighted model, the dimension
argument, APGD's checkpoints and DLR loss."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from attacks import dimension_sweep, fgsm, linear_model_shift, linear_toy, toy_table
from attacks.apgd import checkpoints, dlr_loss


def test_linear_toy_reproduces_the_lecture() -> None:
    r = linear_toy()
    assert r.score == -3.0 and r.score_adv == 2.0
    assert round(r.p, 4) == 0.0474 and round(r.p_adv, 4) == 0.8808
    expected = torch.tensor([1.5, -1.5, 3.5, -2.5, 2.5, 1.5, 1.5, -3.5, 4.5, 1.5],
                            dtype=torch.float64)
    torch.testing.assert_close(r.x_adv, expected, rtol=0, atol=0)  # halves are exact
    assert r.x_adv.dtype == torch.float64 and r.x_adv.shape == (10,)
    rows = r.rows()
    assert len(rows) == 10 and rows[0] == {"i": 0, "x": 2.0, "w": -1.0, "x_adv": 1.5}
    table = toy_table(r)
    assert "0.0474" in table and "0.8808" in table and len(table.splitlines()) == 12


def test_linear_toy_eps_is_checked_and_zero_is_identity() -> None:
    assert torch.equal(linear_toy(0.0).x_adv, linear_toy(0.0).x)
    with pytest.raises(ValueError, match="eps"):
        linear_toy(-0.5)


def _hand_model() -> nn.Module:
    """Two classes on a 1x2x2 image: z = W x, with W chosen so the step has every case."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False)).double()
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, -2.0, 0.0, 3.0], [-1.0, 1.0, 0.0, 1.0]]))
    return net.eval()


def test_fgsm_on_a_hand_weighted_linear_model() -> None:
    # For two classes and true class 0, dCE/dx = p_1 (w_1 - w_0) with p_1 > 0, so
    # sign(grad) = sign(w_1 - w_0) = sign([-2, 3, 0, -2]) = [-1, 1, 0, -1].
    x = torch.tensor([0.1, 0.95, 0.5, 0.3], dtype=torch.float64).view(1, 1, 2, 2)
    y = torch.tensor([0])
    x_adv = fgsm(_hand_model(), x, y, eps=0.2)
    expected = torch.tensor([
        0.0,        # 0.1 - 0.2 clipped at 0
        1.0,        # 0.95 + 0.2 clipped at 1
        0.5,        # both weights 0: the gradient is exactly 0, sign 0, pixel stays
        0.3 - 0.2,  # inside the box
    ], dtype=torch.float64).view(1, 1, 2, 2)
    torch.testing.assert_close(x_adv, expected, rtol=0, atol=0)
    # targeted toward class 1 descends CE(1), whose gradient is p_0 (w_0 - w_1): same step
    torch.testing.assert_close(fgsm(_hand_model(), x, torch.tensor([1]), eps=0.2,
                                    targeted=True), expected, rtol=0, atol=0)


def test_dimension_sweep_grows_linearly_and_keeps_linf() -> None:
    rows = dimension_sweep([10, 100, 1000, 10000], eps=0.01,
                           generator=torch.Generator().manual_seed(0))
    for r in rows:
        assert r["measured_shift"] == pytest.approx(r["predicted_shift"], rel=1e-12)
        assert r["predicted_shift"] == pytest.approx(0.01 * r["l1_norm"], rel=1e-12)
        assert r["linf_perturbation"] == pytest.approx(0.01, rel=1e-12)
        assert r["l2_perturbation"] == pytest.approx(0.01 * math.sqrt(r["dim"]), rel=1e-9)
    # ||w||_1 of N(0, 1) weights is about d * sqrt(2 / pi): within 5% at d = 10,000
    assert rows[-1]["measured_shift"] == pytest.approx(rows[-1]["expected_shift"], rel=0.05)
    shifts = [r["measured_shift"] for r in rows]
    assert shifts[-1] > 500 * shifts[0]
    again = dimension_sweep([10, 100, 1000, 10000], eps=0.01,
                            generator=torch.Generator().manual_seed(0))
    assert again == rows


def test_dimension_sweep_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="dims"):
        dimension_sweep([10, 0], eps=0.1)
    with pytest.raises(ValueError, match="eps"):
        dimension_sweep([10], eps=-1.0)
    with pytest.raises(ValueError, match="generator"):
        dimension_sweep([10], eps=0.1, generator=0)  # type: ignore[arg-type]


def test_linear_model_shift_on_shipped_logreg(logreg: nn.Module, mnist) -> None:
    x, y = mnist
    lin = logreg.net[1]
    rows = linear_model_shift(lin.weight, x[:300], y[:300], eps_grid=[0.0, 0.05, 0.1, 0.2],
                              bias=lin.bias)
    assert rows[0]["predicted_margin_shift"] == 0 and rows[0]["measured_margin_shift"] == 0
    assert rows[0]["flip_rate"] == 0 and rows[0]["dim"] == 784
    for r in rows[1:]:
        # clipping only removes moves, so the clipped shift stays below the linear bound
        assert 0 < r["measured_margin_shift"] <= r["predicted_margin_shift"]
    flips = [r["flip_rate"] for r in rows]
    assert flips == sorted(flips) and flips[-1] > 0.9


def test_linear_model_shift_matches_the_bound_without_clipping() -> None:
    # pixels at 0.5 and a step of 0.1 never reach the box, so measured == predicted exactly
    w = torch.tensor([[1.0, -2.0, 0.0, 0.5], [0.0, 1.0, -1.0, 0.0]], dtype=torch.float64)
    x = torch.full((3, 1, 2, 2), 0.5, dtype=torch.float64)
    y = torch.tensor([0, 0, 1])
    (row,) = linear_model_shift(w, x, y, eps_grid=[0.1])
    # ||w_0 - w_1||_1 = 1 + 3 + 1 + 0.5 = 5.5, times eps 0.1
    assert row["predicted_margin_shift"] == pytest.approx(0.55, rel=1e-12)
    assert row["measured_margin_shift"] == pytest.approx(0.55, rel=1e-12)


def test_apgd_checkpoints_follow_the_paper() -> None:
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (Croce and Hein 2020, sec. 3.2)
    assert checkpoints(100) == [0, 22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(10) == [0, 3, 5, 6, 7, 8, 9, 10]


def test_dlr_loss_by_hand() -> None:
    z = torch.tensor([[4.0, 1.0, 3.0, 0.0, -1.0]])
    # untargeted, y = 0: -(z_0 - max_{i != 0} z_i) / (z_pi1 - z_pi3) = -(4 - 3) / (4 - 1)
    assert float(dlr_loss(z, torch.tensor([0]))) == pytest.approx(-1 / 3)
    # y = 2 (not the top class): -(3 - 4) / 3 > 0, i.e. misclassified
    assert float(dlr_loss(z, torch.tensor([2]))) == pytest.approx(1 / 3)
    # targeted, source 0, target 1: -(z_0 - z_1) / (z_pi1 - (z_pi3 + z_pi4) / 2) = -3 / 3.5
    assert float(dlr_loss(z, torch.tensor([1]), torch.tensor([0]))) == pytest.approx(-3 / 3.5)
    # DLR is invariant to shifting and positively scaling the logits
    assert torch.allclose(dlr_loss(3 * z + 7, torch.tensor([0])), dlr_loss(z, torch.tensor([0])))
