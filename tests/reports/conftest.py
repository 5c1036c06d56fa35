"""Runs shared by the report tests, each made once per session: the shipped quick suite
(through the CLI, as a user would) and a tiny suite with hostile strings and a failing job.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditbench.cli import main
from bench.runner import run_suite
from bench.suite import load_suite
from reports import build_report

HOSTILE_NAME = "<b>bold</b> run"
HOSTILE_DESCRIPTION = '<script>alert("pwned")</script> & "quotes" <img src=x onerror=alert(1)>'

TINY = f"""
name = '{HOSTILE_NAME}'
description = '{HOSTILE_DESCRIPTION}'

[[task]]
kind = "toy"

[[task]]
kind = "robustness"
model = "mnist_logreg"
weights = "random"
attack = "fgsm"
eps = [0.0, 0.1]
n = 32

# mnist_cnn is not a linear model: this job fails, and the report must say so
[[task]]
kind = "dimension"
model = "mnist_cnn"
dims = [10]
eps_grid = [0.1]
n = 8
"""


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quick") / "run"
    # one thread: on a machine whose two cores other processes share, two PyTorch threads
    # spend most of their time waiting for each other
    code = main(["run", "--suite", "quick", "--out", str(out), "--device", "cpu",
                 "--threads", "1"])
    assert code == 0, "the quick suite had failed jobs"
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    path = root / "tiny.toml"
    path.write_text(TINY)
    out = root / "run"
    summary = run_suite(load_suite(path), out, device="cpu", progress=False)
    assert len(summary.failed) == 1
    build_report(out)
    return out
