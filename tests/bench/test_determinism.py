"""Two runs of the same suite give the same values, timings aside: the quick suite's tasks plus
a torchvision model with random weights, run in two separate processes (so randomness drawn
afresh in each process would show), compared value for value and array for array. Random
weights are drawn from the suite's seed and the model's name, and the card shows their hash."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas.testing as pdt
import pytest
import torch

from bench.context import RunContext, weights_seed
from bench.definitions import toml_suite
from bench.store import load_jobs
from bench.suite import load_suite
from reports.card import audit_card
from tests.runs import stored_artifacts, stored_values

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "bench" / "suites" / "quick.toml"
#: the cheapest torchvision classifier (1.2 M parameters), untrained: ImageNet files are not
#: needed, and its weights come from the suite's seed alone
TINY = {"source": "tv:squeezenet1_1", "weights": "random"}
TINY_TASK = {"kind": "stress", "model": "tiny", "method": ["class_model", "feature_inversion"],
             "sizes": [32], "steps_grid": [2]}
#: the quick suite's two slowest tasks, shortened so two runs fit the test's time: every kind
#: and model still runs, with fewer images and steps
SHORTER = {"quality": {"n": 4, "curve_steps": 5},
           "gallery": {"steps": 10, "inversion_steps": 10, "dream_steps": 2, "style_steps": 3}}


def suite_raw(seed: int = 0) -> dict[str, Any]:
    raw = tomllib.loads(QUICK.read_text(encoding="utf-8"))
    raw["name"], raw["seed"] = "determinism", seed
    raw["task"] = [{**task, **SHORTER.get(task["kind"], {})} for task in raw["task"]]
    raw["task"].append(TINY_TASK)
    raw["models"] = {"tiny": TINY}
    return raw


def start_run(suite: Path, out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "random"}
    return subprocess.Popen(
        [sys.executable, "-m", "auditbench", "run", "--suite", str(suite), "--out", str(out),
         "--threads", "1", "--no-report"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("determinism")
    suite = root / "determinism.toml"
    suite.write_text(toml_suite(suite_raw()), encoding="utf-8")
    runs = (root / "a", root / "b")
    # side by side: two processes, each with its own per-process state, at half the wait
    procs = [start_run(suite, run) for run in runs]
    for proc in procs:
        out, _ = proc.communicate()
        assert proc.returncode == 0, out[-3000:]
    for run in runs:
        jobs = load_jobs(run)
        assert (jobs["status"] == "done").all(), jobs[["label", "status", "error"]].to_string()
    return runs


def test_two_runs_store_the_same_values_and_arrays(two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    values = stored_values(a)
    kinds = set(values["kind"])
    assert {"stress", "robustness", "gallery", "quality"} <= kinds
    assert (values["model"] == "tiny").any() and (values["model"] == "tv:resnet18").any()
    pdt.assert_frame_equal(values, stored_values(b))
    arrays_a, arrays_b = stored_artifacts(a), stored_artifacts(b)
    assert arrays_a and arrays_a.keys() == arrays_b.keys()
    for key, arrays in arrays_a.items():
        assert arrays.keys() == arrays_b[key].keys(), key
        for name, array in arrays.items():
            other = arrays_b[key][name]
            assert array.dtype == other.dtype, (key, name)
            np.testing.assert_array_equal(array, other, err_msg=f"{key} {name}")


def test_the_card_shows_the_same_random_weights_hash(two_runs: tuple[Path, Path]) -> None:
    cards = [{m["key"]: m for m in audit_card(run)["models"]} for run in two_runs]
    tiny = [card["tiny"] for card in cards]
    assert tiny[0]["random_weights"] and tiny[0]["weights_sha256"]
    assert tiny[0]["weights_sha256"] == tiny[1]["weights_sha256"]
    assert tiny[0]["weights_text"] == (
        f"random weights, seeded from suite seed 0 (sha256 {tiny[0]['weights_sha256']})")
    # the same weights in this process too; another suite seed draws other weights
    suite_path = two_runs[0].parent / "determinism.toml"
    for seed, same in ((0, True), (1, False)):
        suite = load_suite(suite_path)
        ctx = RunContext(torch.device("cpu"), definitions=suite.definitions, seed=seed)
        sha = ctx.weights_sha256(ctx.model("tiny"))
        assert (sha == tiny[0]["weights_sha256"]) is same, seed


def test_random_weights_come_from_the_seed_and_the_name_and_leave_the_rng_alone() -> None:
    def weights(seed: int, name: str) -> dict[str, torch.Tensor]:
        ctx = RunContext(torch.device("cpu"), seed=seed)
        return ctx.model(name, "random").net.state_dict()

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = weights(0, "mnist_cnn")
    assert torch.equal(torch.rand(3), expected)  # the caller's RNG as it was
    again, other_seed = weights(0, "mnist_cnn"), weights(1, "mnist_cnn")
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other_seed[k]) for k in first)
    # the same architecture under another name gets other weights
    same_net = weights(0, "mnist_cnn_at")
    assert first.keys() == same_net.keys()
    assert not all(torch.equal(first[k], same_net[k]) for k in first)
    assert weights_seed(0, "a") == 5690829181965289459  # sha256: the same in every process
