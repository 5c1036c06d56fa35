"""The ``minimal`` kind run for real: FAB and DeepFool on the shipped mnist_cnn, the stored
curve read off the per-example norms, the section's figure and table, and the audit card
taking the worst case over these attacks and PGD together."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bench.store import load, load_artifact, load_jobs
from reports.card import audit_card
from tests.runs import run_with_report

GRID = [0.0, 0.1, 0.2, 0.3]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("minimal")
    raw = {"name": "minimal", "seed": 0, "task": [
        {"kind": "minimal", "model": "mnist_cnn", "attack": ["fab", "deepfool"],
         "norm": "linf", "eps": GRID, "n": 12, "steps": 5},
        {"kind": "minimal", "model": "mnist_cnn", "attack": "deepfool", "norm": "l2",
         "eps": [0.0, 1.0, 2.0], "n": 12},
        {"kind": "robustness", "model": "mnist_cnn", "attack": "pgd", "eps": GRID, "n": 12,
         "steps": 5, "rel_alpha": 0.4},
    ]}
    return run_with_report(raw, root)


def test_the_curve_is_read_off_the_stored_norms(run: Path) -> None:
    rows = load(run)
    jobs = load_jobs(run)
    minimal = jobs[jobs["kind"] == "minimal"]
    assert len(minimal) == 3
    for job_id in minimal["job_id"]:
        mine = rows[rows["job_id"] == job_id]
        norms = load_artifact(run, job_id, "norms")["norms"]
        per = load_artifact(run, job_id, "per_example")
        clean = per["clean_correct"].astype(bool)
        assert norms.shape == (12,) and np.all(norms[~clean] == 0)
        assert np.all(norms[clean] > 0)
        curve = mine[mine["metric"] == "robust_accuracy"].sort_values("eps")
        for eps, value in zip(curve["eps"], curve["value"], strict=True):
            assert value == pytest.approx(float(np.mean(clean & (norms > eps + 1e-6))))
        clean_acc = mine.loc[mine["metric"] == "clean_accuracy", "value"].item()
        assert curve["value"].iloc[0] == pytest.approx(clean_acc)
        median = mine[(mine["metric"] == "norm_quantile") & (mine["quantile"] == 0.5)]
        assert median["value"].item() == pytest.approx(
            float(np.sort(norms[clean])[(clean.sum() - 1) // 2]))


def test_section_and_card(run: Path) -> None:
    page = (run / "index.html").read_text(encoding="utf-8")
    section = page.split('<section id="minimal">', 1)[1].split("</section>", 1)[0]
    assert len(re.findall(r'<img src="data:image/png;base64,', section)) == 2  # L∞, L2
    assert "median" in section and "deepfool" in section and "fab" in section
    card = audit_card(run)
    (model,) = card["models"]
    linf = next(r for r in model["robust"] if r["norm"] == "linf")
    assert linf["attacks"] == ["deepfool", "fab", "pgd"]
    assert linf["value"] <= min(linf["per_attack"].values())
