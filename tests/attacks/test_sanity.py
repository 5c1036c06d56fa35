"""Carlini et al. 2019's sanity checks: they pass on every shipped model at the shipped
suites' settings, catch a model that masks its gradients (zero gradients, a saturated
softmax, a thermometer encoding), and give a model without any input gradient a verdict
instead of an error: there the black-box checks still run, and they are what shows that the
white-box numbers mean nothing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from attacks import SanityCheck, carlini_checks
from attacks.common import NO_GRADIENT
from attacks.sanity import ATTACK_CHECKS, NOT_RUN, slack

WHITE_BOX = ["gradients_exist", "pgd_at_least_fgsm", "monotone_in_eps", "more_steps_no_better",
             "unbounded_eps_zero_accuracy", "targeted_reaches_target"]
NAMES = [*WHITE_BOX, "black_box_not_stronger", "random_search_not_stronger"]
#: with a surrogate, the transfer check comes between the two
WITH_SURROGATE = [*WHITE_BOX, "black_box_not_stronger", "transfer_not_stronger",
                  "random_search_not_stronger"]
COMPARISONS = ["black_box_not_stronger", "transfer_not_stronger", "random_search_not_stronger"]
N = 100
#: the sanity task of bench/suites/default.toml (n 128) and of quick.toml (n 32)
DEFAULT = dict(eps=0.3, eps_grid=[0.0, 0.1, 0.2, 0.3], steps=20)
QUICK = dict(eps=0.3, eps_grid=[0.0, 0.15, 0.3], steps=10)
#: the user audit's template (bench/suites/audit/quick.toml) on the shapes model: its
#: standard budget is CIFAR-10's 8/255 (bench/threat.py); on MNIST it is QUICK
AUDIT_SHAPES = dict(eps=8 / 255, eps_grid=[0.0, 4 / 255, 8 / 255], steps=10)
DATA = {"mnist_logreg": "mnist5k", "mnist_cnn": "mnist5k", "mnist_cnn_at": "mnist5k",
        "shapes_cnn": "shapes"}
#: least values of the comparison checks on the masked models below (QUICK settings, the
#: unmasked network as surrogate), a little under what was measured (in brackets)
QUICK_QUANTISED = {"black_box_not_stronger": 40,  # (48 of 49)
                   "transfer_not_stronger": 40,  # (49 of 49)
                   "random_search_not_stronger": 15}  # (22 of 49)
QUICK_SATURATED = {"black_box_not_stronger": 3,  # (3 of 29: Square's loss is flat too)
                   "transfer_not_stronger": 25,  # (29 of 29)
                   "random_search_not_stronger": 12}  # (18 of 29)
NO_GRADIENT_LEAST = {  # (Detached: 31, 31, 23 of 31; Thermometer: 31, 31, 24 of 31)
    "Detached": {"black_box_not_stronger": 28, "transfer_not_stronger": 28,
                 "random_search_not_stronger": 16},
    "Thermometer": {"black_box_not_stronger": 28, "transfer_not_stronger": 28,
                    "random_search_not_stronger": 16},
}
#: the surrogate the transfer check gets in the tests: another model on the same data
SURROGATE = {"mnist_logreg": "mnist_cnn", "mnist_cnn": "mnist_cnn_at",
             "mnist_cnn_at": "mnist_cnn", "shapes_cnn": "shapes_cnn"}


class Wrapped(nn.Module):
    """A shipped model behind an input or output transform: the same predictions."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.num_classes = 10
        self.training = False


class QuantisedInput(Wrapped):
    """Rounds the pixels to five levels (``round(4 x) / 4``) before the network: nearly the
    same predictions as the network, but ``round`` has a zero derivative, so every input
    gradient is exactly 0 and gradient attacks never move. A textbook case of gradient
    masking (Athalye et al. 2018's "shattered gradients"): robust-looking numbers from a
    model that is not robust."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * 4) / 4)


class SaturatedSoftmax(Wrapped):
    """Returns ``softmax(100 * logits)`` as its logits: the same argmax, but the softmax is
    saturated at 0 and 1 in float32, so the gradients vanish (Carlini and Wagner's
    defensive-distillation failure)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(100 * self.model(x), dim=1)


class Detached(Wrapped):
    """Detaches its input: the output has no autograd path to it at all."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.detach())


class Thermometer(Wrapped):
    """A thermometer encoding (Buckman et al. 2018, broken by Athalye et al.) at levels
    1/4, 1/2, 3/4, decoded back to one channel (the share of levels a pixel exceeds): a
    comparison has no gradient, so neither has the output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = sum((x > t).to(x.dtype) for t in (0.25, 0.5, 0.75))
        return self.model(levels / 3)


def run(model: nn.Module, mnist, n: int = N, surrogate: nn.Module | None = None,
        **settings: object) -> dict[str, SanityCheck]:
    x, y = mnist[0][:n], mnist[1][:n]
    kw = settings or dict(eps=0.1, eps_grid=[0.05, 0.1, 0.2], steps=10)
    checks = carlini_checks(model, x, y, **kw, generator=torch.Generator().manual_seed(0),
                            surrogate=surrogate)
    assert [c.name for c in checks] == (NAMES if surrogate is None else WITH_SURROGATE)
    return {c.name: c for c in checks}


def survivors(check: SanityCheck) -> int:
    """The examples white-box PGD left correct, read off a comparison check's detail."""
    return int(check.detail.split(" clean-correct")[0].rsplit(" ", 1)[1])


def assert_caught(check: SanityCheck, least: int) -> None:
    """A comparison check fails: the attack fooled at least ``least`` examples, over the
    tolerance, of those PGD left correct, and the detail says the numbers mean nothing."""
    assert not check.passed, check.detail
    assert check.value is not None and check.value >= least, check.detail
    assert check.value > slack(survivors(check))
    assert "not meaningful" in check.detail


def suite_sample(name: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The images a suite's sanity job with seed 0 draws (``RunContext.sample``)."""
    x, y = zoo.load_dataset(DATA[name], "test")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]
    return x[order], y[order]


def test_checks_pass_on_the_natural_cnn(cnn, mnist) -> None:
    checks = run(cnn, mnist)
    failed = [c.detail for c in checks.values() if not c.passed]
    assert failed == []
    assert all(isinstance(c.value, float) and c.detail for c in checks.values())
    assert checks["gradients_exist"].value == 1.0
    assert checks["pgd_at_least_fgsm"].value == 0
    assert checks["unbounded_eps_zero_accuracy"].value == 0.0
    assert checks["targeted_reaches_target"].value == 1.0
    # at eps 0.1 PGD leaves some examples correct, and neither Square nor random points of
    # the ball fool any of them
    assert survivors(checks["black_box_not_stronger"]) > 0
    assert checks["black_box_not_stronger"].value == 0
    assert checks["random_search_not_stronger"].value == 0


@pytest.mark.parametrize("name", ["mnist_logreg", "mnist_cnn", "mnist_cnn_at", "shapes_cnn"])
def test_shipped_models_pass_at_the_suites_settings(name: str) -> None:
    """No false alarm on a sound model: the default and quick suites' settings (the quick
    one also with a surrogate) at the quick suite's n; for the shapes model also the user
    audit's budget. (Cross-entropy PGD from x at ``steps`` steps reached the target on only
    72.7% of shapes_cnn's 128 default-suite images.)"""
    model = zoo.load_model(name).eval()
    surrogate = zoo.load_model(SURROGATE[name]).eval()
    runs = [(DEFAULT, None), (QUICK, surrogate)]
    if name == "shapes_cnn":
        runs.append((AUDIT_SHAPES, surrogate))
    for settings, other in runs:
        checks = run(model, suite_sample(name, 32), n=32, surrogate=other, **settings)
        assert [c.detail for c in checks.values() if not c.passed] == []


def test_shapes_cnn_passes_at_the_default_suites_n() -> None:
    model = zoo.load_model("shapes_cnn").eval()
    checks = run(model, suite_sample("shapes_cnn", 128), n=128, **DEFAULT)
    assert [c.detail for c in checks.values() if not c.passed] == []


def test_checks_catch_gradient_masking(cnn, mnist) -> None:
    masked = QuantisedInput(cnn)
    x, y = mnist[0][:50], mnist[1][:50]
    with torch.no_grad():  # nearly the same classifier: masking is invisible on clean data
        assert (masked(x).argmax(1) == y).sum() >= (cnn(x).argmax(1) == y).sum() - 1
    checks = run(masked, mnist, n=50, surrogate=cnn, **QUICK)
    # Every input gradient is exactly zero: the first check names it.
    assert not checks["gradients_exist"].passed
    assert checks["gradients_exist"].value == 0.0
    # The unbounded attacks catch it too: with zero gradients nothing moves (the random
    # starts near x do not change the class), so accuracy at eps 1 stays near the clean
    # accuracy and almost no target is reached.
    assert not checks["unbounded_eps_zero_accuracy"].passed
    assert checks["unbounded_eps_zero_accuracy"].value > 0.9
    assert not checks["targeted_reaches_target"].passed
    assert checks["targeted_reaches_target"].value < 0.05
    # The relative checks cannot: FGSM fools nobody either, and a flat curve is monotone.
    # That is why Carlini et al. insist on the absolute ones.
    assert checks["pgd_at_least_fgsm"].passed and checks["monotone_in_eps"].passed
    # PGD fools none of the 49 clean-correct examples; Square, PGD made on the unmasked
    # network and random points of the ball fool most of them (measured: QUICK_QUANTISED).
    for name, least in QUICK_QUANTISED.items():
        assert_caught(checks[name], least)


def test_checks_catch_a_saturated_softmax(cnn, mnist) -> None:
    masked = SaturatedSoftmax(cnn)
    checks = run(masked, mnist, n=30, surrogate=cnn, **QUICK)
    # measured on mnist_cnn's 128 default-suite images: 2 of 128 with a gradient, 96%
    # accuracy at eps 1, 0.8% of the targets reached
    assert not checks["gradients_exist"].passed
    assert checks["gradients_exist"].value < 0.2
    assert not checks["unbounded_eps_zero_accuracy"].passed
    assert checks["unbounded_eps_zero_accuracy"].value > 0.8
    assert not checks["targeted_reaches_target"].passed
    assert checks["targeted_reaches_target"].value < 0.1
    # The output says nothing but its argmax, so Square's loss is flat too and it is only
    # as good as its random steps; coarse random sign tiles and transfer do better.
    for name, least in QUICK_SATURATED.items():
        assert_caught(checks[name], least)


@pytest.mark.parametrize("wrapper", [Detached, Thermometer])
def test_a_model_without_input_gradients_gets_a_verdict(cnn, mnist, wrapper) -> None:
    """White-box checks cannot run; the black-box ones do, and they show that the white-box
    numbers (PGD counted as fooling nothing) mean nothing."""
    model = wrapper(cnn)
    grads_before = [p.requires_grad for p in cnn.parameters()]
    checks = run(model, mnist, n=32, surrogate=cnn, **QUICK)
    first = checks["gradients_exist"]
    assert not first.passed and first.value == 0.0 and first.detail == NO_GRADIENT
    for name in ATTACK_CHECKS:
        assert not checks[name].passed
        assert checks[name].value is None and checks[name].detail == NOT_RUN
    for name in COMPARISONS:
        assert_caught(checks[name], NO_GRADIENT_LEAST[wrapper.__name__][name])
        assert "PGD could not run" in checks[name].detail
        assert survivors(checks[name]) == 31  # every clean-correct example
    assert [p.requires_grad for p in cnn.parameters()] == grads_before


def test_transfer_is_left_out_without_a_surrogate_and_refuses_a_bad_one(cnn, mnist) -> None:
    checks = run(Thermometer(cnn), mnist, n=8, **QUICK)  # ``run`` checks the names
    assert "transfer_not_stronger" not in checks
    with pytest.raises(ValueError, match="surrogate"):
        carlini_checks(cnn, mnist[0][:4], mnist[1][:4], **QUICK, surrogate="mnist_cnn")
    # a surrogate without input gradients cannot make examples: not run, with the reason
    checks = run(Thermometer(cnn), mnist, n=8, surrogate=Detached(cnn), **QUICK)
    transfer = checks["transfer_not_stronger"]
    assert not transfer.passed and transfer.value is None
    assert "surrogate has no input gradients" in transfer.detail


def test_a_model_without_input_gradients_and_frozen_parameters(cnn, mnist) -> None:
    """Frozen parameters: the output needs no grad at all (the other torch error)."""
    model = Detached(cnn)
    before = [p.requires_grad for p in cnn.parameters()]
    for p in cnn.parameters():
        p.requires_grad_(False)
    try:
        checks = run(model, mnist, n=4)
    finally:
        for p, g in zip(cnn.parameters(), before, strict=True):
            p.requires_grad_(g)
    assert checks["gradients_exist"].detail == NO_GRADIENT


def test_the_sanity_kind_passes_a_surrogate(tmp_path) -> None:
    """A task's ``surrogate`` names a model; its job stores the transfer check's rows."""
    from bench.kinds.sanity.job import PASSED
    from bench.runner import run_suite
    from bench.store import load
    from bench.suite import parse_suite

    task = {"kind": "sanity", "model": "mnist_logreg", "eps": 0.3, "eps_grid": [0.0, 0.3],
            "steps": 2, "n": 8}
    raw = {"name": "s", "task": [task, {**task, "surrogate": "mnist_cnn"}]}
    suite = parse_suite(raw, path=tmp_path / "s.toml")
    plain, other = (job.params for job in suite.jobs)
    assert "surrogate" not in plain and other["surrogate"] == "mnist_cnn"
    assert run_suite(suite, tmp_path / "run", device="cpu", progress=False).failed == {}
    df = load(tmp_path / "run")
    names = {job_id: rows.loc[rows["metric"] == PASSED, "check"].tolist()
             for job_id, rows in df.groupby("job_id")}
    assert sorted(names.values(), key=len) == [NAMES, WITH_SURROGATE]
