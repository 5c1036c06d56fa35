"""The attack kinds (``toy``, ``dimension``, ``examples``, ``fooling``, ``sanity``) on a tiny
suite: what the suite accepts, the rows and arrays each job stores, and what each section
shows on the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import attacks
from bench.kind import get_kind
from bench.kinds.dimension.job import MODEL_SHIFT, SWEEP
from bench.kinds.examples.job import EXAMPLES, L2_PERTURBATION, LINF_PERTURBATION, SUCCESS_RATE
from bench.kinds.fooling.job import FOOLING, TARGET_PROB
from bench.kinds.sanity.job import CHECK_VALUE, PASSED
from bench.runner import run_suite
from bench.store import load, load_artifact
from bench.suite import Suite, SuiteError, parse_suite
from reports import build_report

EPS = 0.3
TASKS: list[dict[str, Any]] = [
    {"kind": "toy"},
    {"kind": "dimension", "dims": [10, 100], "eps_grid": [0.0, 0.1], "n": 16},
    {"kind": "examples", "model": "mnist_logreg", "attack": ["fgsm", "pgd"], "eps": 0.2,
     "n": 3, "steps": 2, "rel_alpha": 0.5},
    # one grid with the step relative to eps, one with the same step absolute
    {"kind": "fooling", "model": "mnist_logreg", "classes": [0, 1], "eps": EPS,
     "rel_alpha": 0.5, "steps": 2, "n": 32},
    {"kind": "fooling", "model": "mnist_logreg", "classes": [0, 1], "eps": EPS,
     "alpha": 0.5 * EPS, "steps": 2, "n": 32},
    {"kind": "sanity", "model": "mnist_logreg", "eps": EPS, "eps_grid": [0.0, EPS],
     "steps": 2, "n": 8},
]


def suite(*tasks: dict[str, Any]) -> Suite:
    return parse_suite({"name": "tiny", "task": list(tasks)}, path=Path("tiny.toml"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, str]:
    """The tiny suite run once: its directory, stored rows and report page."""
    out = tmp_path_factory.mktemp("attack_kinds")
    summary = run_suite(suite(*TASKS), out, device="cpu", progress=False)
    assert summary.failed == {}
    return out, load(out), build_report(out).read_text(encoding="utf-8")


def section_html(html: str, kind: str) -> str:
    found = re.search(rf'<section id="{kind}">(.*?)</section>', html, re.S)
    assert found, kind
    assert "No results" not in found.group(1) and "has no" not in found.group(1)
    return found.group(1)


def of(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    return df[df["kind"] == kind]


def test_fooling_refuses_both_step_forms_or_neither() -> None:
    task = {"kind": "fooling", "model": "mnist_logreg", "eps": EPS, "steps": 2}
    with pytest.raises(SuiteError, match="give alpha or rel_alpha for fooling_grid, not both"):
        suite({**task, "alpha": 0.1, "rel_alpha": 0.5})
    with pytest.raises(SuiteError, match="needs a step: alpha or rel_alpha"):
        suite(task)
    with pytest.raises(SuiteError, match="rel_alpha"):
        suite({**task, "rel_alpha": -1.0})


def test_examples_jobs_keep_only_their_attacks_settings() -> None:
    jobs = suite({"kind": "examples", "model": "mnist_logreg", "attack": ["fgsm", "pgd"],
                  "norm": ["linf", "l2"], "eps": 0.2, "steps": 2, "rel_alpha": 0.5}).jobs
    configs = {(j.params["attack"], j.params["norm"]): j.params for j in jobs}
    assert set(configs) == {("fgsm", "linf"), ("pgd", "linf"), ("pgd", "l2")}  # no L2 FGSM
    assert "steps" not in configs["fgsm", "linf"] and "rel_alpha" not in configs["fgsm", "linf"]
    assert configs["pgd", "l2"]["steps"] == 2 and configs["pgd", "l2"]["n"] == 6
    with pytest.raises(SuiteError, match="needs a step"):
        suite({"kind": "examples", "model": "mnist_logreg", "eps": 0.2, "steps": 2})


def test_kind_defaults_enter_the_job_config() -> None:
    sanity, fooling, toy = (suite(t).jobs[0].params for t in (
        {"kind": "sanity", "model": "mnist_logreg", "eps": EPS, "eps_grid": [EPS]},
        {"kind": "fooling", "model": "mnist_logreg", "eps": EPS, "rel_alpha": 0.1, "steps": 1},
        {"kind": "toy"}))
    assert (sanity["steps"], sanity["n"]) == (40, 256)
    assert (fooling["n"], fooling["norm"]) == (256, "linf") and "classes" not in fooling
    assert toy == {"eps": 0.5}
    assert not get_kind("toy").uses_data and get_kind("dimension").uses_data


def test_toy_rows_and_section(run: tuple[Path, pd.DataFrame, str]) -> None:
    _, df, html = run
    toy = of(df, "toy")
    expected = attacks.linear_toy(eps=0.5)
    scalars = toy[toy["i"].isna()].set_index("metric")["value"]
    assert scalars.to_dict() == pytest.approx(
        {"score": expected.score, "score_adv": expected.score_adv, "p": expected.p,
         "p_adv": expected.p_adv})
    assert len(toy.dropna(subset=["i"])) == 3 * 10  # x, w and x_adv of ten coordinates
    part = section_html(html, "toy")
    assert part.count("<tr><td>") == 10 + 2 and "88.08%" in part


def test_dimension_rows_and_section(run: tuple[Path, pd.DataFrame, str]) -> None:
    _, df, html = run
    dim = of(df, "dimension")
    sweep, shift = dim[dim["method"] == SWEEP], dim[dim["method"] == MODEL_SHIFT]
    assert sorted(sweep["dim"].unique()) == [10, 100] and sweep["model_label"].isna().all()
    assert sorted(shift["eps"].unique()) == [0.0, 0.1] and (shift["dim"] == 784).all()
    part = " ".join(section_html(html, "dimension").split())
    assert "data:image/png;base64," in part
    # the caption's model facts come from the run: MNIST's 784 pixels, 10 classes, its zeros
    zeros = shift["zero_pixels"].iloc[0]
    assert (shift["classes"] == 10).all() and 0.5 < zeros < 1.0
    assert "(784 inputs, 10 classes)" in part and f"({zeros:.0%} of this sample" in part


def test_examples_rows_artifact_and_section(run: tuple[Path, pd.DataFrame, str]) -> None:
    out, df, html = run
    examples = of(df, "examples")
    assert set(examples["method"]) == {"fgsm", "pgd"}
    for job_id, job in examples.groupby("job_id"):
        metrics = job.set_index("metric")["value"]
        assert set(metrics.index) == {SUCCESS_RATE, LINF_PERTURBATION, L2_PERTURBATION}
        assert 0.0 <= metrics[SUCCESS_RATE] <= 1.0
        assert metrics[LINF_PERTURBATION] <= 0.2 + 1e-6
        art = load_artifact(out, job_id, EXAMPLES)
        assert art["clean"].shape == art["adversarial"].shape == (3, 1, 28, 28)
        assert np.allclose(art["adversarial"] - art["clean"], art["perturbation"])
        assert len(art["class_names"]) == 10
    part = section_html(html, "examples")
    assert "mnist_logreg · fgsm · L∞ ε = 0.2" in part and "mnist_logreg · pgd" in part


def test_fooling_rows_step_resolution_and_section(run: tuple[Path, pd.DataFrame, str]) -> None:
    out, df, html = run
    fooling = of(df, "fooling")
    grids = []
    for job_id, job in fooling.groupby("job_id"):
        cells = job[job["metric"] == TARGET_PROB]
        assert sorted(zip(cells["source"], cells["target"], strict=True)) == [
            (0, 0), (0, 1), (1, 0), (1, 1)]
        grids.append(load_artifact(out, job_id, FOOLING)["target_prob"])
    # rel_alpha = 0.5 at eps 0.3 is the step alpha = 0.15
    assert len(grids) == 2 and np.array_equal(grids[0], grids[1])
    part = section_html(html, "fooling")
    assert part.count("<h3>mnist_logreg · targeted L∞ ε = 0.3, 2 steps</h3>") == 2


def test_sanity_rows_and_section_list_the_checks(run: tuple[Path, pd.DataFrame, str]) -> None:
    _, df, html = run
    sanity = of(df, "sanity")
    checks = sanity.loc[sanity["metric"] == PASSED, "check"].tolist()
    assert len(checks) == 8 and set(sanity["metric"]) <= {PASSED, CHECK_VALUE}
    part = section_html(html, "sanity")
    assert all(f'<td class="l">{name}</td>' in part for name in checks)
    assert re.search(r"mnist_logreg · \d of 8 passed", part)


def test_captions_count_what_is_shown() -> None:
    from bench.kinds.examples.section import shown_counts
    from bench.kinds.fooling.section import build as fooling_build

    # two of three shown images are right; the attack fools one of those two (the wrong one
    # does not count as fooled)
    art = {"label": np.array([1, 2, 3]), "pred": np.array([1, 2, 0]),
           "pred_adv": np.array([5, 2, 4])}
    assert shown_counts(art) == {"shown": 3, "correct": 2, "fooled": 1}
    # a fooling grid of one recognised class has no off-diagonal cell to count
    grid = {"classes": np.array([3]), "success": np.array([[True]]),
            "images": np.zeros((1, 1, 1, 8, 8)), "target_prob": np.array([[0.9]]),
            "class_names": np.array([str(i) for i in range(10)])}
    rows = pd.DataFrame([{"job_id": "j", "model_label": "m", "norm": "linf", "eps": 0.3,
                          "steps": 2, "metric": "success_rate", "value": float("nan")}])
    (entry,) = fooling_build(rows, lambda job_id, name: grid)
    # no 1x1 figure: the page says why there is no grid
    assert entry["cells"] == 0 and entry["classes"] == 1 and entry["figure"] is None
    assert entry["names"] == "3"
