"""Bad input raises one clear ValueError/KeyError naming the argument, before any forward
pass (the counting wrapper proves the model was never called)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch

import attacks
from attacks import carlini_checks, fooling_grid, robust_accuracy
from zoo.errors import UserError

NAMES = attacks.list_attacks()
N = 4


def images() -> torch.Tensor:
    return torch.rand(N, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def labels() -> torch.Tensor:
    return torch.arange(N)


def nan_pixel() -> torch.Tensor:
    x = images()
    x[0, 0, 3, 3] = float("nan")
    return x


def inf_pixel() -> torch.Tensor:
    x = images()
    x[1, 0, 0, 0] = float("inf")
    return x


# (case id, (x, y) -> (x, y), extra kwargs, error type, word the message must contain)
INPUT_CASES: list[tuple[str, Callable[[], tuple[Any, Any]], dict[str, Any], type, str]] = [
    ("nan", lambda: (nan_pixel(), labels()), {}, UserError, "NaN"),
    ("inf", lambda: (inf_pixel(), labels()), {}, UserError, "infinite"),
    ("above_1", lambda: (images() * 2, labels()), {}, UserError, r"\[0, 1\]"),
    ("below_0", lambda: (images() - 0.5, labels()), {}, UserError, r"\[0, 1\]"),
    ("rank_3", lambda: (images()[:, 0], labels()), {}, UserError, "shape"),
    ("float64", lambda: (images().double(), labels()), {}, UserError,
     r"x has dtype torch.float64 but the model's parameters are torch.float32: convert the "
     r"images with x.float\(\) or the model with model.double\(\)"),
    ("uint8", lambda: ((images() * 255).to(torch.uint8), labels()), {}, UserError, "float"),
    ("label_10", lambda: (images(), torch.tensor([0, 1, 2, 10])), {}, UserError, "y"),
    ("label_neg", lambda: (images(), torch.tensor([0, -1, 2, 3])), {}, UserError, "y"),
    ("label_shape", lambda: (images(), labels()[:, None]), {}, UserError, "y"),
    ("label_float", lambda: (images(), labels().float()), {}, UserError, "y"),
    ("eps_neg", lambda: (images(), labels()), {"eps": -0.1}, UserError, "eps"),
    ("eps_nan", lambda: (images(), labels()), {"eps": float("nan")}, UserError, "eps"),
]


def kwargs_for(kit, name: str, **override: Any) -> dict[str, Any]:
    kw = kit.attack_kwargs(attacks.get_attack(name), eps=0.1)
    kw.update(override)
    return kw


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("case", "make", "extra", "error", "word"), INPUT_CASES,
                         ids=[c[0] for c in INPUT_CASES])
def test_attack_rejects_bad_input_before_work(kit, cnn, name, case, make, extra, error, word):
    model = kit.CountingModel(cnn)
    x, y = make()
    with pytest.raises(error, match=word):
        attacks.get_attack(name)(model, x, y, **kwargs_for(kit, name, **extra))
    assert model.calls == 0


def params_of(name: str) -> set[str]:
    return set(inspect.signature(attacks.get_attack(name).fn).parameters)


@pytest.mark.parametrize("name", [n for n in NAMES if attacks.get_attack(n).iterative])
def test_negative_steps(kit, cnn, name) -> None:
    model = kit.CountingModel(cnn)
    with pytest.raises(ValueError, match="steps"):
        attacks.get_attack(name)(model, images(), labels(), **kwargs_for(kit, name, steps=-1))
    with pytest.raises(ValueError, match="steps"):
        attacks.get_attack(name)(model, images(), labels(), **kwargs_for(kit, name, steps=2.5))
    assert model.calls == 0


@pytest.mark.parametrize("name", [n for n in NAMES if attacks.get_attack(n).takes("alpha")])
def test_negative_alpha(kit, cnn, name) -> None:
    model = kit.CountingModel(cnn)
    with pytest.raises(ValueError, match="alpha"):
        attacks.get_attack(name)(model, images(), labels(), **kwargs_for(kit, name, alpha=-1.0))
    assert model.calls == 0


@pytest.mark.parametrize("name", [n for n in NAMES if "norm" in params_of(n)])
def test_unknown_norm(kit, cnn, name) -> None:
    model = kit.CountingModel(cnn)
    with pytest.raises(ValueError, match="norm"):
        attacks.get_attack(name)(model, images(), labels(), **kwargs_for(kit, name, norm="l1"))
    assert model.calls == 0


@pytest.mark.parametrize("name", [n for n in NAMES if attacks.get_attack(n).random])
def test_generator_must_be_a_generator(kit, cnn, name) -> None:
    model = kit.CountingModel(cnn)
    for bad in (0, "seed", torch.tensor(1)):
        with pytest.raises(ValueError, match="generator"):
            attacks.get_attack(name)(model, images(), labels(),
                                     **kwargs_for(kit, name, generator=bad))
    assert model.calls == 0


def test_model_must_be_a_module() -> None:
    with pytest.raises(ValueError, match="model"):
        attacks.fgsm(lambda t: t, images(), labels(), eps=0.1)  # type: ignore[arg-type]


def test_apgd_specific_arguments(kit, cnn) -> None:
    model = kit.CountingModel(cnn)
    base = dict(eps=0.1, steps=2)
    for bad, word in [(dict(loss="cw"), "loss"), (dict(restarts=0), "restarts"),
                      (dict(rho=1.5), "rho"), (dict(rho=-0.1), "rho")]:
        with pytest.raises(ValueError, match=word):
            attacks.apgd(model, images(), labels(), **base, **bad)
    assert model.calls == 0


RA_CASES: list[tuple[dict[str, Any], type, str]] = [
    (dict(attack="nope", eps=[0.1]), KeyError, "nope"),
    (dict(attack=None, eps=[0.1]), ValueError, "attack"),
    (dict(attack="fgsm", eps=[0.1, -0.1]), ValueError, "eps"),
    (dict(attack="fgsm", eps=[]), ValueError, "eps"),
    (dict(attack="fgsm", eps=[0.1], norm="l2"), ValueError, "norm"),
    (dict(attack="pgd", eps=[0.1], norm="l1", steps=2, rel_alpha=0.25), ValueError, "norm"),
    (dict(attack="fgsm", eps=[0.1], alpha=0.01), ValueError, "alpha"),
    (dict(attack="pgd", eps=[0.1], steps=2), ValueError, "alpha"),
    (dict(attack="pgd", eps=[0.1], steps=2, alpha=0.1, rel_alpha=0.25), ValueError, "alpha"),
    (dict(attack="pgd", eps=[0.1], steps=-2, rel_alpha=0.25), ValueError, "steps"),
    (dict(attack="pgd", eps=[0.1], rel_alpha=0.25), ValueError, "steps"),
    (dict(attack="pgd", eps=[0.1], steps=2, rel_alpha=0.25, stepz=3), ValueError, "stepz"),
    (dict(attack="pgd", eps=[0.1], steps=2, rel_alpha=0.25, targeted=True), ValueError,
     "targeted"),
    (dict(attack="pgd", eps=[0.1], steps=2, rel_alpha=0.25, generator=3), ValueError,
     "generator"),
    (dict(attack="fool", eps=[0.1], steps=2, rel_alpha=0.25), ValueError, "targeted-only"),
    (dict(attack="fgsm", eps=[0.1], batch_size=0), ValueError, "batch_size"),
]


@pytest.mark.parametrize(("kwargs", "error", "word"), RA_CASES,
                         ids=[f"{i}-{c[2]}" for i, c in enumerate(RA_CASES)])
def test_robust_accuracy_rejects_bad_arguments(kit, cnn, kwargs, error, word) -> None:
    model = kit.CountingModel(cnn)
    with pytest.raises(error, match=word):
        robust_accuracy(model, images(), labels(), **kwargs)
    assert model.calls == 0


@pytest.mark.parametrize(("case", "make", "extra", "error", "word"), INPUT_CASES[:10],
                         ids=[c[0] for c in INPUT_CASES[:10]])
def test_evaluation_tools_reject_bad_images_and_labels(kit, cnn, case, make, extra, error,
                                                       word) -> None:
    model = kit.CountingModel(cnn)
    x, y = make()
    with pytest.raises(error, match=word):
        robust_accuracy(model, x, y, attack="fgsm", eps=[0.1])
    with pytest.raises(error, match=word):
        fooling_grid(model, x, y, eps=0.1, alpha=0.01, steps=2)
    with pytest.raises(error, match=word):
        carlini_checks(model, x, y, eps=0.1, eps_grid=[0.1], steps=2)
    assert model.calls == 0


def test_fooling_grid_and_checks_reject_bad_arguments(kit, cnn) -> None:
    model = kit.CountingModel(cnn)
    x, y = images(), labels()
    for bad, word in [(dict(classes=[0, 0]), "classes"), (dict(classes=[11]), "classes"),
                      (dict(classes=[]), "classes"), (dict(classes="01"), "classes"),
                      (dict(eps=-1.0), "eps"), (dict(steps=-1), "steps"),
                      (dict(norm="l1"), "norm")]:
        kw: dict[str, Any] = dict(eps=0.1, alpha=0.01, steps=2)
        kw.update(bad)
        with pytest.raises(ValueError, match=word):
            fooling_grid(model, x, y, **kw)
    for bad, word in [(dict(eps=-0.1), "eps"), (dict(eps_grid=[]), "eps_grid"),
                      (dict(steps=0), "steps"), (dict(generator=1), "generator")]:
        kw = dict(eps=0.1, eps_grid=[0.1], steps=2)
        kw.update(bad)
        with pytest.raises(ValueError, match=word):
            carlini_checks(model, x, y, **kw)
    assert model.calls == 0
