"""Image priors and the Gram matrix against values worked out by hand on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from generative.priors import alpha_norm, total_variation
from generative.style_transfer import gram_matrix

# one image, one channel, 2x3:
#   0 1 3
#   2 2 5
# positions (0, 0): right 1 - 0 = 1, down 2 - 0 = 2 -> 1 + 4 = 5
# positions (0, 1): right 3 - 1 = 2, down 2 - 1 = 1 -> 4 + 1 = 5
# (the last row and column have no right/down neighbour and are left out)
X = torch.tensor([[[[0.0, 1.0, 3.0], [2.0, 2.0, 5.0]]]])


@pytest.mark.parametrize(("beta", "expected"), [
    (2.0, 10.0),                 # 5 + 5
    (1.0, 2 * math.sqrt(5.0)),   # sqrt(5) + sqrt(5)
    (4.0, 50.0),                 # 25 + 25
])
def test_total_variation_by_hand(beta: float, expected: float) -> None:
    assert_close(total_variation(X, beta), torch.tensor([expected]))


def test_total_variation_sums_channels_per_image() -> None:
    # channel 0 is X (10 at beta 2), channel 1 is constant (0); image 2 is 3 * image 1 (90)
    one = torch.cat([X, torch.full_like(X, 0.3)], dim=1)  # (1, 2, 2, 3)
    batch = torch.cat([one, 3 * one])
    assert_close(total_variation(batch), torch.tensor([10.0, 90.0]))


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0, 6.0])
def test_total_variation_is_zero_on_a_constant_image_with_a_finite_gradient(beta: float) -> None:
    x = torch.full((2, 3, 5, 4), 0.4, requires_grad=True)
    tv = total_variation(x, beta)
    (grad,) = torch.autograd.grad(tv.sum(), x)
    assert torch.equal(tv, torch.zeros(2))
    assert torch.isfinite(grad).all() and torch.equal(grad, torch.zeros_like(grad))


def test_total_variation_gradient_is_finite_where_some_differences_vanish() -> None:
    x = X.clone().requires_grad_(True)
    x.data[..., 1, 0] = 0.0  # position (0, 0) now differs only to the right
    (grad,) = torch.autograd.grad(total_variation(x, 1.0).sum(), x)
    assert torch.isfinite(grad).all()


def test_alpha_norm_by_hand() -> None:
    x = torch.tensor([[[[0.5, -1.0], [2.0, 0.0]]]])
    # |0.5|^3 + |-1|^3 + |2|^3 + 0 = 0.125 + 1 + 8 = 9.125
    assert_close(alpha_norm(x, 3.0), torch.tensor([9.125]))
    # about 0.5, squared: 0 + 1.5^2 + 1.5^2 + 0.5^2 = 4.75
    assert_close(alpha_norm(x, 2.0, centre=0.5), torch.tensor([4.75]))
    centre = torch.tensor([0.5]).view(1, 1, 1, 1)
    assert_close(alpha_norm(x, 2.0, centre=centre), torch.tensor([4.75]))


def test_alpha_norm_below_one_has_a_finite_gradient_at_the_centre() -> None:
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(alpha_norm(x, 0.5).sum(), x)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, True])
def test_priors_refuse_bad_exponents(bad: float) -> None:
    with pytest.raises(ValueError, match="beta"):
        total_variation(X, bad)
    with pytest.raises(ValueError, match="alpha"):
        alpha_norm(X, bad)


def test_gram_matrix_by_hand() -> None:
    # channel 0: 1 2 / 3 4, channel 1: 0 1 / 0 1; C H W = 8
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])
    # F F^T = [[1 + 4 + 9 + 16, 2 + 4], [2 + 4, 1 + 1]] = [[30, 6], [6, 2]]; / 8
    assert_close(gram_matrix(f), torch.tensor([[[3.75, 0.75], [0.75, 0.25]]]))


def test_gram_matrix_is_symmetric_and_positive_semidefinite() -> None:
    f = torch.randn(3, 5, 4, 6, generator=torch.Generator().manual_seed(0))
    g = gram_matrix(f)
    assert g.shape == (3, 5, 5)
    assert_close(g, g.transpose(1, 2))
    assert (torch.linalg.eigvalsh(g.double()) > -1e-9).all()
    with pytest.raises(ValueError, match="features"):
        gram_matrix(f[0])
