"""The public extension points, used as a user would, from this file only: a new attack with
a hyperparameter no built-in attack has, and a new job kind with its own report section. Each
is validated before any work, reaches the call, is part of the job id and shows in the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from torch import nn

import attacks
import attribution
import auditbench
from attacks.common import StepSize, check_attack_inputs, input_gradient, project
from bench.kind import KINDS, ArtifactLoader
from bench.schema import Dataset, Model
from bench.spec import Job, JobOutput
from bench.store import load_jobs
from bench.suite import SuiteError, parse_suite
from zoo.params import Iterations, NonNegative, PositiveInt

SEEN: list[float] = []  # the momentum each call of the test attack received


def mifgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: NonNegative,
           alpha: StepSize, steps: Iterations, momentum: NonNegative = 1.0,
           targeted: bool = False) -> torch.Tensor:
    """Momentum iterative FGSM (Dong et al. 2018): sign steps along a running sum of
    L1-normalised gradients, ``g <- momentum * g + grad / ||grad||_1``."""
    model, x, y = check_attack_inputs(model, x, y, "mifgsm")
    SEEN.append(momentum)
    x_adv, g = x.detach().clone(), torch.zeros_like(x)
    for _ in range(steps):
        grad, _ = input_gradient(model, x_adv, y, targeted)
        g = momentum * g + grad / grad.abs().flatten(1).sum(1).clamp_min(1e-12).view(-1, 1, 1, 1)
        x_adv = project(x_adv + alpha * g.sign(), x, eps, "linf")
    return x_adv


@pytest.fixture
def new_attack() -> Iterator[str]:
    attacks.register("mifgsm", paper="Dong et al. 2018")(mifgsm)
    SEEN.clear()
    try:
        yield "mifgsm"
    finally:
        attacks.registry.unregister("mifgsm")


def robustness_task(**settings: Any) -> dict[str, Any]:
    return {"kind": "robustness", "model": "mnist_logreg", "attack": ["fgsm", "mifgsm"],
            "eps": [0.0, 0.1], "n": 16, "steps": 3, "rel_alpha": 0.25, **settings}


def test_a_new_attack_hyperparameter_is_checked_passed_hashed_and_shown(
        new_attack: str, tmp_path: Path) -> None:
    for bad in (-0.5, "high", True):
        with pytest.raises(SuiteError, match="momentum"):
            parse_suite({"task": [robustness_task(momentum=bad)]}, path=tmp_path / "s.toml")
    assert not SEEN  # refused before any call

    suite = {"name": "momentum", "task": [robustness_task(momentum=0.9),
                                          robustness_task(momentum=0.5)]}
    df = auditbench.run_suite(suite, tmp_path / "run", device="cpu", threads=1)

    assert sorted(set(SEEN)) == [0.5, 0.9]  # each job's own value reached the attack
    jobs = load_jobs(tmp_path / "run")
    configs = {row["job_id"]: row["config"] for _, row in jobs.iterrows()}
    mine = {c["momentum"]: i for i, c in configs.items() if c["attack"] == "mifgsm"}
    assert set(mine) == {0.5, 0.9} and len(set(mine.values())) == 2
    for job_id, config in configs.items():
        assert Job(config["kind"], {k: v for k, v in config.items() if k != "kind"}).id == job_id
        # FGSM takes neither steps nor momentum: its job (and id) does not carry them
        assert ("momentum" in config) == (config["attack"] == "mifgsm")
    assert len([c for c in configs.values() if c["attack"] == "fgsm"]) == 1  # run once

    rows = df[(df["method"] == "mifgsm") & (df["metric"] == "robust_accuracy")]
    assert set(rows["momentum"]) == {0.5, 0.9}
    html = (tmp_path / "run" / "index.html").read_text(encoding="utf-8")
    section = html.split('<section id="robustness">', 1)[1].split("</section>", 1)[0]
    assert "mifgsm (momentum=0.9)" in section and "mifgsm (momentum=0.5)" in section
    assert "steps=3, rel_alpha=0.25, momentum=0.9" in section


MARGIN = "logit_margin"


def margin_run(ctx: Any, *, model: Model, weights: str | None = None, dataset: Dataset,
               n: PositiveInt = 32, seed: int, top: PositiveInt = 2) -> JobOutput:
    """The mean gap between the highest logit and the ``top``-th highest."""
    net = ctx.model(model, weights)
    x, _ = ctx.sample(dataset, n, seed)
    with torch.no_grad():
        logits = net(x).sort(dim=1, descending=True).values
    gap = float((logits[:, 0] - logits[:, top - 1]).mean())
    return JobOutput([{"model_label": net.label, "method": "margin", "metric": MARGIN,
                       "value": gap}])


def margin_section(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    return [{"model": r["model_label"], "top": int(r["top"]), "gap": r["value"]}
            for _, r in rows[rows["metric"] == MARGIN].iterrows()]


TEMPLATE = """<table class="margins">{% for r in section %}
<tr><td>{{ r.model }}</td><td>top {{ r.top }}</td><td>{{ r.gap|num(3) }}</td></tr>
{% endfor %}</table>"""


@pytest.fixture
def new_kind() -> Iterator[str]:
    auditbench.register_kind(
        "margin", run=margin_run, expand=("model",), description="logit margins",
        section=auditbench.Section("Logit margins", margin_section, TEMPLATE, nav="Margins"))
    try:
        yield "margin"
    finally:
        KINDS.remove("margin")


def test_a_new_job_kind_runs_and_gets_its_report_section(new_kind: str, tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="top"):
        parse_suite({"task": [{"kind": "margin", "model": "mnist_cnn", "top": 0}]},
                    path=tmp_path / "s.toml")
    with pytest.raises(SuiteError, match="unknown key 'tpo'"):
        parse_suite({"task": [{"kind": "margin", "model": "mnist_cnn", "tpo": 3}]},
                    path=tmp_path / "s.toml")
    suite = {"name": "margins", "task": [
        {"kind": "margin", "model": ["mnist_logreg", "mnist_cnn"], "top": 3, "n": 8}]}
    df = auditbench.run_suite(suite, tmp_path / "run", device="cpu", threads=1)

    assert len(df) == 2 and set(df["metric"]) == {MARGIN} and (df["value"] > 0).all()
    configs = load_jobs(tmp_path / "run")["config"].tolist()
    assert all(c["top"] == 3 and c["dataset"] == "mnist5k" and c["seed"] == 0 for c in configs)
    twin = parse_suite({"task": [{"kind": "margin", "model": "mnist_cnn", "top": 2}]},
                       path=tmp_path / "s.toml")
    assert twin.jobs[0].id not in set(df["job_id"])  # another top, another job
    html = (tmp_path / "run" / "index.html").read_text(encoding="utf-8")
    assert '<a href="#margin">Margins</a>' in html
    section = html.split('<section id="margin">', 1)[1].split("</section>", 1)[0]
    assert "<h2>Logit margins</h2>" in section and section.count("top 3") == 2
    assert "mnist_logreg" in section and "mnist_cnn" in section
    # a suite given as a dict is kept as the TOML it reads as, like a suite file
    assert 'kind = &#34;margin&#34;' in html.split('<section id="suite">', 1)[1]


def gradient_x_input(model: nn.Module, x: torch.Tensor, target: Any, *,
                     scale: NonNegative = 1.0) -> torch.Tensor:
    """Gradient times input (Shrikumar et al. 2016), scaled."""
    from attribution.common import check_inputs
    from attribution.common import input_gradient as gradient

    model, x, target = check_inputs(model, x, target, "gradient_x_input")
    return scale * x * gradient(model, x, target)


def test_a_new_attribution_method_runs_under_auto_and_is_left_out_of_agreement_with_why(
        tmp_path: Path) -> None:
    attribution.register("gradient_x_input", paper="Shrikumar et al. 2016")(gradient_x_input)
    try:
        suite = {"task": [
            {"kind": "attribution", "model": "mnist_cnn", "n": 2, "scale": 2.0},
            {"kind": "agreement", "model": "mnist_cnn", "n": 2,
             "methods": ["saliency", "gradient_x_input"]}]}
        df = auditbench.run_suite(suite, tmp_path / "run", device="cpu", threads=1)
    finally:
        attribution.registry.unregister("gradient_x_input")
    maps = df[(df["kind"] == "attribution") & (df["method"] == "gradient_x_input")]
    assert len(maps) == 1 and set(maps["scale"]) == {2.0}
    agree = df[df["kind"] == "agreement"]
    assert set(agree.loc[agree["method"] == "gradient_x_input", "metric"]) == {"not_compared"}
    assert (agree.loc[agree["method"] == "saliency", "metric"] == "max_abs_diff").any()
    html = (tmp_path / "run" / "index.html").read_text(encoding="utf-8")
    section = html.split('<section id="agreement">', 1)[1].split("</section>", 1)[0]
    assert "not compared: Captum has no counterpart" in section
