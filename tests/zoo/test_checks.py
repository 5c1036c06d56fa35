from __future__ import annotations

import math

import pytest
import torch

from zoo import (
    check_choice,
    check_count,
    check_eps_grid,
    check_images,
    check_labels,
    check_nonnegative,
)
from zoo.checks import check_baseline, check_generator, check_window
from zoo.errors import UnknownNameError, UserError
from zoo.guard import check_model


def test_check_images_accepts_pixels() -> None:
    x = torch.rand(2, 3, 4, 4)
    assert check_images(x) is x


@pytest.mark.parametrize(
    ("x", "message"),
    [
        ([[0.5]], "must be a torch.Tensor"),
        (torch.zeros(2, 1, 4, 4, dtype=torch.uint8), "floating-point"),
        (torch.zeros(1, 4, 4), r"shape \(N, C, H, W\)"),
        (torch.zeros(0, 1, 4, 4), "empty"),
        (torch.full((1, 1, 2, 2), math.nan), "NaN or infinite"),
        (torch.full((1, 1, 2, 2), math.inf), "NaN or infinite"),
        (torch.full((1, 1, 2, 2), 1.5), r"\[0, 1\]"),
        (torch.full((1, 1, 2, 2), -0.1), r"\[0, 1\]"),
    ],
)
def test_check_images_rejects(x: object, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        check_images(x, name="images")
    assert "images" in str(info.value)


def test_check_labels() -> None:
    y = torch.tensor([0, 9])
    assert check_labels(y, 2, 10) is y
    with pytest.raises(ValueError, match="class index 10"):
        check_labels(torch.tensor([0, 10]), 2, 10)
    with pytest.raises(ValueError, match="negative"):
        check_labels(torch.tensor([-1, 0]), 2, 10)
    with pytest.raises(ValueError, match="integer"):
        check_labels(torch.tensor([0.0, 1.0]), 2, 10)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        check_labels(torch.tensor([0, 1]), 3, 10)


def test_scalar_checks() -> None:
    assert check_nonnegative(0, "eps") == 0.0
    assert check_count(3, "steps") == 3
    assert check_choice("l2", "norm", ("linf", "l2")) == "l2"
    assert check_eps_grid([0.3, 0.0, 0.1]) == [0.0, 0.1, 0.3]
    for bad in (-0.1, math.nan, math.inf, "0.3", True):
        with pytest.raises(ValueError, match="eps"):
            check_nonnegative(bad, "eps")
    with pytest.raises(ValueError, match="steps"):
        check_count(-1, "steps")
    with pytest.raises(ValueError, match="steps"):
        check_count(2.0, "steps")
    with pytest.raises(ValueError, match="norm"):
        check_choice("l3", "norm", ("linf", "l2"))
    with pytest.raises(ValueError, match="eps"):
        check_eps_grid([])


@pytest.mark.parametrize("bad", [
    lambda: check_labels(torch.tensor([0, 10]), 2, 10),
    lambda: check_nonnegative(-1, "eps"),
    lambda: check_count(1.5, "steps"),
    lambda: check_eps_grid([]),
    lambda: check_generator(3),
    lambda: check_baseline(torch.zeros(5), torch.zeros(1, 1, 2, 2)),
    lambda: check_window(9, 1, (4, 4)),
    lambda: check_model(lambda x: x),
])
def test_every_refusal_is_a_user_error(bad) -> None:
    # the command line prints a UserError as one line, exit 2; a plain ValueError is a bug
    with pytest.raises(UserError) as info:
        bad()
    assert type(info.value) is UserError and "\n" not in str(info.value)


def test_an_unknown_choice_is_an_unknown_name() -> None:
    with pytest.raises(UnknownNameError, match="norm must be one of 'linf', 'l2'; got 'l3'"):
        check_choice("l3", "norm", ("linf", "l2"))
