"""The transfer attack: PGD made on a surrogate breaks a model whose own gradients are masked
(8-bit input quantisation: ``torch.round`` has zero gradient), where PGD on the model itself
does nothing; refused before any work without a fitting surrogate; a suite runs it with the
surrogate named like a model."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import attacks
import auditbench
import zoo
from bench.preflight import PreflightError, _check_second_models
from bench.spec import Job
from bench.store import load_jobs
from bench.suite import SuiteError, parse_suite

N = 100
EPS = 0.3


class Quantised(nn.Module):
    """``model`` behind input quantisation to ``levels + 1`` grey levels (``torch.round``):
    a forward pass like the model's, a gradient of zero (masked gradients)."""

    def __init__(self, model: nn.Module, levels: int = 255) -> None:
        super().__init__()
        self.model, self.levels = model, levels
        self.num_classes, self.input_shape = model.num_classes, model.input_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * self.levels) / self.levels)


@pytest.fixture(scope="module")
def digits(mnist) -> tuple[torch.Tensor, torch.Tensor]:
    return mnist[0][:N], mnist[1][:N]


@pytest.fixture(scope="module")
def surrogate() -> nn.Module:
    return zoo.load_model("mnist_cnn")


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


# measured when written (100 digits, L∞ 0.3, ten steps of 0.1): clean 0.98, PGD on the
# quantised model 1.00 (zero gradient: only the random start moves, and rounding undoes it),
# transfer from mnist_cnn 0.00
def test_transfer_breaks_a_model_whose_gradients_are_masked(cnn, surrogate, digits) -> None:
    x, y = digits
    masked = Quantised(cnn).eval()
    own = attacks.pgd(masked, x, y, eps=EPS, alpha=0.1, steps=10,
                      generator=torch.Generator().manual_seed(0))
    made = attacks.transfer(masked, x, y, surrogate=surrogate, eps=EPS, alpha=0.1, steps=10,
                            generator=torch.Generator().manual_seed(0))
    white_box, transferred = accuracy(masked, own, y), accuracy(masked, made, y)
    assert white_box >= 0.9 and transferred <= 0.1
    assert white_box - transferred >= 0.8
    # and robust accuracy says the same, with the surrogate passed through
    curve = attacks.robust_accuracy(masked, x, y, attack="transfer", eps=[EPS], steps=10,
                                    rel_alpha=1 / 3, surrogate=surrogate,
                                    generator=torch.Generator().manual_seed(0))
    assert curve.accuracy[0] <= 0.1
    assert curve.gradient_passes == 10 * int(curve.clean_correct.sum())  # the surrogate's


def test_one_run_is_pgd_on_the_surrogate_and_never_calls_the_model(kit, cnn, surrogate,
                                                                    digits) -> None:
    x, y = digits[0][:8], digits[1][:8]
    model = kit.CountingModel(cnn)
    made = attacks.transfer(model, x, y, surrogate=surrogate, eps=0.2, alpha=0.05, steps=3,
                            generator=torch.Generator().manual_seed(1))
    plain = attacks.pgd(surrogate, x, y, eps=0.2, alpha=0.05, steps=3,
                        generator=torch.Generator().manual_seed(1))
    assert torch.equal(made, plain) and model.calls == 0


def test_restarts_keep_what_fools_the_model(kit, cnn, surrogate, digits) -> None:
    # two runs, the model judges each once; an example fooled by either run stays fooled
    x, y = digits[0][:32], digits[1][:32]
    model = kit.CountingModel(Quantised(cnn, levels=4).eval())
    kw = dict(surrogate=surrogate, eps=0.15, alpha=0.05, steps=3)
    one = attacks.transfer(model, x, y, **kw, generator=torch.Generator().manual_seed(2))
    model.calls = 0
    two = attacks.transfer(model, x, y, **kw, restarts=2,
                           generator=torch.Generator().manual_seed(2))
    assert model.calls == 2
    with torch.no_grad():
        assert int((model(two).argmax(1) != y).sum()) >= int((model(one).argmax(1) != y).sum())


def test_no_side_effects_on_model_surrogate_and_inputs(cnn, digits) -> None:
    x, y = digits[0][:8].clone(), digits[1][:8].clone()
    x0, y0 = x.clone(), y.clone()
    sur = zoo.load_model("mnist_cnn")
    sur.net[0].weight.grad = torch.ones_like(sur.net[0].weight)
    before = zoo.ModelState.capture(cnn), zoo.ModelState.capture(sur)
    attacks.transfer(cnn, x, y, surrogate=sur, eps=0.2, alpha=0.05, steps=2, restarts=2,
                     generator=torch.Generator().manual_seed(0))
    assert before[0].differences(zoo.ModelState.capture(cnn)) == []
    assert before[1].differences(zoo.ModelState.capture(sur)) == []
    assert torch.equal(x, x0) and torch.equal(y, y0) and not x.requires_grad


class Wider(nn.Module):
    """A classifier with 11 outputs, or another input shape."""

    def __init__(self, classes: int = 11, shape: tuple[int, ...] = (1, 28, 28)) -> None:
        super().__init__()
        self.fc = nn.Linear(28 * 28, classes)
        self.num_classes, self.input_shape = classes, shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


@pytest.mark.parametrize(("bad", "word"), [
    (Wider(11), "classes"), (Wider(10, (3, 28, 28)), "input shape"), ("mnist_cnn", "surrogate"),
])
def test_an_unfit_surrogate_is_refused_before_any_work(kit, cnn, digits, bad, word) -> None:
    model = kit.CountingModel(cnn)
    x, y = digits[0][:4], digits[1][:4]
    with pytest.raises(ValueError, match=word):
        attacks.transfer(model, x, y, surrogate=bad, eps=0.1, alpha=0.05, steps=2)
    with pytest.raises(ValueError, match=word):
        attacks.robust_accuracy(model, x, y, attack="transfer", eps=[0.1], steps=2,
                                rel_alpha=0.5, surrogate=bad)
    assert model.calls == 0


def test_robust_accuracy_wants_a_surrogate_exactly_for_transfer(kit, cnn, surrogate,
                                                                digits) -> None:
    model = kit.CountingModel(cnn)
    x, y = digits[0][:4], digits[1][:4]
    with pytest.raises(ValueError, match="surrogate"):
        attacks.robust_accuracy(model, x, y, attack="transfer", eps=[0.1], steps=2,
                                rel_alpha=0.5)
    with pytest.raises(ValueError, match="surrogate"):
        attacks.robust_accuracy(model, x, y, attack="pgd", eps=[0.1], steps=2, rel_alpha=0.5,
                                surrogate=surrogate)
    assert model.calls == 0


TASK = {"kind": "robustness", "model": "mnist_cnn_at", "attack": "transfer", "eps": [0.1, 0.3],
        "n": 16, "steps": 3, "rel_alpha": 0.5, "surrogate": "mnist_cnn"}


@pytest.mark.parametrize(("change", "word"), [
    ({"surrogate": None}, "transfer needs 'surrogate'"),
    ({"attack": "pgd"}, "'surrogate' goes to none"),
    ({"surrogate": "nope"}, "nope"),
])
def test_a_suite_refuses_a_surrogate_mistake(tmp_path: Path, change, word) -> None:
    task = {k: v for k, v in {**TASK, **change}.items() if v is not None}
    with pytest.raises(SuiteError, match=word):
        parse_suite({"task": [task]}, path=tmp_path / "s.toml")


def test_a_suite_gives_the_surrogate_only_to_transfer(tmp_path: Path) -> None:
    suite = parse_suite({"task": [{**TASK, "attack": ["pgd", "transfer"]}]},
                        path=tmp_path / "s.toml")
    configs = {j.params["attack"]: j.params for j in suite.jobs}
    assert "surrogate" not in configs["pgd"] and configs["transfer"]["surrogate"] == "mnist_cnn"
    # the pgd job is the one the task without a surrogate gives: the same id
    alone = {k: v for k, v in TASK.items() if k != "surrogate"}
    same = parse_suite({"task": [{**alone, "attack": "pgd"}]}, path=tmp_path / "s.toml")
    assert same.jobs[0].id == next(j for j in suite.jobs if j.params["attack"] == "pgd").id


def test_preflight_refuses_a_surrogate_of_other_classes_or_size() -> None:
    job = Job("robustness", {**TASK, "dataset": "mnist5k", "seed": 0})
    models = {"mnist_cnn_at": {"num_classes": 10, "input_size": [1, 28, 28], "error": ""}}
    for other in (Wider(11), Wider(10, (1, 32, 32))):
        ctx = SimpleNamespace(model=lambda name, other=other: other)
        with pytest.raises(PreflightError, match="surrogate 'mnist_cnn'"):
            _check_second_models(job, ctx, models)  # type: ignore[arg-type]
    fine = SimpleNamespace(model=lambda name: Wider(10))
    _check_second_models(job, fine, models)  # type: ignore[arg-type]


def test_a_surrogate_trained_on_other_data_is_judged_by_what_it_takes(tmp_path: Path) -> None:
    # the suite does not ask the surrogate's training data, only preflight its input and
    # classes: shapes_cnn takes 3 x 32 x 32 images, so it is refused before any job
    with pytest.raises(PreflightError, match="surrogate 'shapes_cnn'"):
        auditbench.run_suite({"name": "t", "task": [{**TASK, "surrogate": "shapes_cnn"}]},
                             tmp_path / "run", device="cpu", threads=1, report=False)
    assert not (tmp_path / "run" / "results.sqlite").exists() or load_jobs(
        tmp_path / "run").empty


def test_a_suite_runs_transfer_with_a_named_surrogate(tmp_path: Path) -> None:
    df = auditbench.run_suite({"name": "transfer", "task": [TASK]}, tmp_path / "run",
                              device="cpu", threads=1, report=False)
    jobs = load_jobs(tmp_path / "run")
    assert list(jobs["status"]) == ["done"], jobs[["label", "status", "error"]].to_string()
    assert jobs["config"].iloc[0]["surrogate"] == "mnist_cnn"
    rows = df[(df["method"] == "transfer") & (df["metric"] == "robust_accuracy")]
    assert sorted(rows["eps"]) == [0.1, 0.3]
    assert (rows["surrogate"] == "mnist_cnn").all()
    clean = float(df[df["metric"] == "clean_accuracy"]["value"].iloc[0])
    values = rows.sort_values("eps")["value"].tolist()
    assert clean >= values[0] >= values[1]
    passes = float(df[df["metric"] == "gradient_passes"]["value"].iloc[0])
    assert passes > 0  # the surrogate's, counted


def test_a_surrogate_declared_in_a_table_is_part_of_the_transfer_jobs_id(
        tmp_path: Path) -> None:
    def ids(table: dict) -> dict[str, str]:
        raw = {"models": {"sur": table},
               "task": [{**TASK, "attack": ["pgd", "transfer"], "surrogate": "sur"}]}
        suite = parse_suite(raw, path=tmp_path / "s.toml")
        return {j.params["attack"]: j.id for j in suite.jobs}

    before = ids({"source": "mnist_cnn"})
    after = ids({"source": "mnist_cnn", "eps_linf": 0.2})  # the table edited
    assert after["transfer"] != before["transfer"]  # its transfer results are redone
    assert after["pgd"] == before["pgd"]  # the PGD job does not use the surrogate
    alone = {k: v for k, v in TASK.items() if k != "surrogate"}
    plain = parse_suite({"task": [{**alone, "attack": "pgd"}]}, path=tmp_path / "s.toml")
    assert plain.jobs[0].id == before["pgd"]
