"""A long job shows where it is: the runner's progress bar names the job and the step inside
it (``attribution mnist_logreg · occlusion 2/2``), and forgets the step when the job ends."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import torch

import bench.runner
from bench.context import RunContext
from bench.suite import parse_suite

SUITE = """
name = "steps"
[[task]]
kind = "attribution"
model = "mnist_logreg"
n = 2
methods = ["saliency", "occlusion"]
[[task]]
kind = "toy"
eps = 0.5
"""


class Recorder:
    """What the runner writes beside the bar (tqdm's postfix)."""

    shown: list[str] = []
    closed = False

    def __init__(self, items: Iterable[Any], **_: Any) -> None:
        self.items = list(items)

    def __iter__(self):
        return iter(self.items)

    def set_postfix_str(self, text: str) -> None:
        self.shown.append(text)

    def close(self) -> None:
        Recorder.closed = True


def test_the_bar_names_each_step_of_a_job(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.runner, "tqdm", Recorder)
    Recorder.shown = []
    Recorder.closed = False
    suite = parse_suite(tomllib.loads(SUITE), path=Path("steps.toml"), source=SUITE)
    summary = bench.runner.run_suite(suite, tmp_path / "run", device="cpu")
    assert not summary.failed
    attribution, toy = (job.label for job in suite.jobs)
    assert Recorder.shown == [attribution, f"{attribution} · saliency 1/2",
                              f"{attribution} · occlusion 2/2", toy]
    assert Recorder.closed


def test_steps_without_a_listener_are_the_items() -> None:
    ctx = RunContext(device=torch.device("cpu"))
    assert list(ctx.steps(["a", "b"])) == ["a", "b"]
    seen: list[str] = []
    ctx.on_step = seen.append
    assert list(ctx.steps(iter([3, 4]), "eps")) == [3, 4]
    assert seen == ["eps 3 1/2", "eps 4 2/2"]
