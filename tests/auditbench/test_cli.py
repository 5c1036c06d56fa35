"""The ``auditbench`` command: the toy's numbers, listings, and one-line usage errors."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditbench.cli import main


def test_toy_json_reproduces_the_lecture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["toy", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["eps"] == 0.5
    assert out["score"] == -3.0 and out["score_adv"] == 2.0
    assert math.isclose(out["p"], 1 / (1 + math.exp(3)), rel_tol=1e-12)  # 0.0474
    assert math.isclose(out["p_adv"], 1 / (1 + math.exp(-2)), rel_tol=1e-12)  # 0.8808
    assert round(out["p"], 4) == 0.0474 and round(out["p_adv"], 4) == 0.8808
    rows = out["rows"]
    assert [r["i"] for r in rows] == list(range(10))
    assert [r["x"] for r in rows] == [2, -1, 3, -2, 2, 2, 1, -4, 5, 1]
    assert [r["x_adv"] for r in rows] == [1.5, -1.5, 3.5, -2.5, 2.5, 1.5, 1.5, -3.5, 4.5, 1.5]


def test_toy_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["toy"]) == 0
    out = capsys.readouterr().out
    assert "x_adv" in out and "0.8808" in out and "0.0474" in out


def test_list_names_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("mnist_cnn_at", "mnist5k", "pgd", "robustness", "quick", "default"):
        assert name in out
    import attacks
    import attribution
    import generative

    # every method of every registry, on its own line with its paper
    methods = [*map(attacks.get_attack, attacks.list_attacks()),
               *map(attribution.get_method, attribution.list_methods()),
               *map(generative.get_method, generative.list_methods())]
    for method in methods:
        line = rf"^(\w+:)? +{method.name} +{re.escape(method.paper)}$"
        assert re.search(line, out, re.MULTILINE), method.name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--suite", "nope"], "unknown suite 'nope'"),
        (["run", "--device", "tpu"], "invalid choice: 'tpu'"),
        (["run", "--suite", "quick", "--name", " "], "--name must not be empty"),
        (["run", "--suite", "quick", "--threads", "0"], "--threads must be >= 1"),
        (["report", "/nonexistent/run"], "no results.sqlite"),
        (["train", "resnet"], "no training config for 'resnet'"),
        (["toy", "--eps", "-1"], "eps must be finite and >= 0"),
        (["toy", "--eps", "abc"], "invalid float value"),
        (["frobnicate"], "invalid choice"),
        ([], "required: command"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err
    assert "Traceback" not in captured.err


def test_a_bad_suite_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[task]]\nkind = "toy"\nepz = 1\n')
    assert main(["run", "--suite", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'epz'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # nothing was run or created


def test_train_writes_loadable_weights_and_reports_accuracy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import zoo
    from bench import train

    # one epoch instead of forty: this tests the command, not the recipe
    monkeypatch.setitem(train.CONFIGS, "mnist_logreg",
                        train.TrainConfig(epochs=1, lr=1e-2, batch_size=500))
    out = tmp_path / "logreg.pt"
    assert main(["train", "mnist_logreg", "--out", str(out), "--seed", "1"]) == 0
    assert re.search(r"mnist_logreg: test accuracy 0\.\d{4}", capsys.readouterr().out)
    model = zoo.load_model("mnist_logreg", weights=out)
    assert model.weights == str(out)


def test_threads_are_restored_after_a_run(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "toy.toml"
    path.write_text('[[task]]\nkind = "toy"\n')
    before = torch.get_num_threads()
    assert main(["run", "--suite", str(path), "--out", str(tmp_path / "run"), "--threads", "1",
                 "--device", "cpu", "--no-report"]) == 0
    assert torch.get_num_threads() == before


def test_help_imports_neither_torch_nor_the_harness() -> None:
    # `auditbench --help` must answer at once: the parser is built without PyTorch (seconds)
    code = ("import sys; from auditbench.cli import build_parser; build_parser(); "
            "heavy = sorted(m for m in ('torch', 'bench.suite', 'reports', 'matplotlib') "
            "if m in sys.modules); print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"


def test_list_imports_neither_torch_nor_the_registries() -> None:
    # `auditbench list` reads the registrations off the source (auditbench.listing)
    code = ("import contextlib, io, sys; from auditbench.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out: assert main(['list']) == 0\n"
            "assert 'pgd' in out.getvalue()\n"
            "heavy = sorted(m for m in ('torch', 'zoo.models', 'attacks', 'attribution', "
            "'generative', 'bench', 'reports') if m in sys.modules); print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
