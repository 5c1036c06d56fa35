"""Every command fails cleanly on what a user gets wrong: exit status 2, one line on stderr
naming the problem, no traceback, and nothing written (the directory listing is the same
before and after). An internal error is a bug (exit 70), and ``--debug`` shows its traceback.
"""

from __future__ import annotations

import os
import pickle
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import auditbench.cli
from auditbench.cli import main
from zoo.nets import mnist_cnn_net, mnist_logreg_net

OUT = "run"


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def refused(argv: list[str], fragment: str, root: Path,
            capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv`` in process; assert exit 2, one stderr line matching ``fragment``, no
    traceback and nothing written under ``root``; the line."""
    before = listing(root)
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert re.search(fragment, lines[0], re.IGNORECASE), lines[0]
    assert "Traceback" not in err
    assert listing(root) == before, "the refused command wrote something"
    return lines[0]


# --------------------------------------------------------------------------- files of the cases

class Payload:
    """A custom class in a pickle: ``weights_only=True`` refuses it, nothing runs."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo payload ran",))


def _text(tmp: Path) -> Path:
    (tmp / "notes.pt").write_text("file,label\n1,2\n", encoding="utf-8")  # IndexError in torch
    return tmp / "notes.pt"


def _empty(tmp: Path) -> Path:
    (tmp / "empty.pt").write_bytes(b"")
    return tmp / "empty.pt"


def _tensor(tmp: Path) -> Path:
    torch.save(torch.zeros(3), tmp / "tensor.pt")
    return tmp / "tensor.pt"


def _not_tensors(tmp: Path) -> Path:
    torch.save({"epochs": 3, "note": "x"}, tmp / "dict.pt")
    return tmp / "dict.pt"


def _other_arch(tmp: Path) -> Path:
    torch.save(mnist_logreg_net().state_dict(), tmp / "logreg.pt")
    return tmp / "logreg.pt"


def _wrong_shape(tmp: Path) -> Path:
    state = mnist_cnn_net().state_dict()
    first = next(iter(state))
    state[first] = torch.zeros(2, 2)
    torch.save(state, tmp / "shape.pt")
    return tmp / "shape.pt"


def _payload(tmp: Path) -> Path:
    with (tmp / "custom.pt").open("wb") as f:
        pickle.dump({"weight": Payload()}, f)
    return tmp / "custom.pt"


WEIGHTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "text": (_text, r"notes\.pt is not a PyTorch checkpoint"),
    "empty": (_empty, r"empty\.pt is empty \(0 bytes\)"),
    "tensor": (_tensor, r"tensor\.pt holds a Tensor of shape \(3,\), not a state dict"),
    "not tensors": (_not_tensors, r"dict\.pt is not a state dict: entry 'epochs' holds an int"),
    "other arch": (_other_arch, r"do not match the architecture: missing key '0\.weight' "
                                r"\(8 missing, 2 unexpected\): missing '0\.weight', '0\.bias', "
                                r"'3\.weight' and 5 more; unexpected '1\.weight', '1\.bias'; "),
    "shape": (_wrong_shape, r"'0\.weight' has shape \(2, 2\), the model expects \(32, 1, 5, 5\)"),
    "pickle": (_payload, r"custom\.pt is not a plain state dict: it holds pickled objects "
                         r"\(posix\.system\), which auditbench never unpickles "
                         r"\(weights_only=True\); save model\.state_dict\(\) instead"),
    "missing": (lambda tmp: tmp / "nowhere.pt", r"weights not found: .*nowhere\.pt"),
}


@pytest.mark.parametrize("case", list(WEIGHTS))
def test_weights_that_are_no_checkpoint_of_the_model(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    make, fragment = WEIGHTS[case]
    weights = make(tmp_path)
    refused(["run", "--model", "mnist_cnn", "--weights", str(weights), "--quick",
             "--out", OUT], fragment, tmp_path, capsys)


FACTORIES = "def boom():\n    raise RuntimeError('kaput\\nsecond line')\n\nx = 1\n"


def _model_case(tmp: Path, spec: str) -> str:
    (tmp / "nets.py").write_text(FACTORIES, encoding="utf-8")
    (tmp / "corrupt.pt2").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp / "corrupt.ts").write_bytes(b"\x00\x01 neither script nor state dict")
    return spec


MODELS = {
    "unknown shipped": ("mnist_cnnn", r"unknown model 'mnist_cnnn' \(did you mean 'mnist_cnn'\?\)"),
    "unknown tv": ("tv:resnet19", r"unknown torchvision classifier 'resnet19' "
                                  r"\(did you mean 'resnet18'\?\)"),
    "missing file": ("missing.py:make", r"source not found: .*missing\.py"),
    "missing factory": ("nets.py:make", r"module '.*nets\.py' has no attribute 'make'"),
    "not callable": ("nets.py:x", r"'x' is not callable"),
    "factory raises": ("nets.py:boom", r"factory boom raised: RuntimeError: kaput second line"),
    "missing module": ("no_such_module_xyz:make", r"cannot import module 'no_such_module_xyz'"),
    "corrupt export": ("corrupt.pt2", r"corrupt\.pt2.*torch\.export\.load failed"),
    "corrupt script": ("corrupt.ts", r"corrupt\.ts' is neither a TorchScript model nor a state "
                                     r"dict"),
    "missing script": ("missing.ts", r"source not found: .*missing\.ts"),
}


@pytest.mark.parametrize("case", list(MODELS))
def test_models_that_do_not_load(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    spec, fragment = MODELS[case]
    (tmp_path / "pics").mkdir()  # your own model needs images; the model is loaded first
    data = [] if spec.startswith(("mnist", "tv:")) else ["--data", "pics"]
    refused(["run", "--model", _model_case(tmp_path, spec), *data, "--input-size", "28",
             "--quick", "--out", OUT] if data else
            ["run", "--model", _model_case(tmp_path, spec), "--quick", "--out", OUT],
            fragment, tmp_path, capsys)


# ------------------------------------------------------------------------------- stores

def _store(tmp: Path, content: bytes | None = None,
           build: Callable[[Path], None] | None = None) -> Path:
    run = tmp / "old"
    run.mkdir()
    if content is not None:
        (run / "results.sqlite").write_bytes(content)
    if build is not None:
        build(run / "results.sqlite")
    return run


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (name TEXT)")
    conn.close()


def _no_meta(path: Path) -> None:
    from bench.store import Store

    with Store(path.parent):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE meta")
    conn.close()


STORES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "random bytes": (lambda tmp: _store(tmp, bytes(range(256)) * 16),
                     r"not an auditbench results store, or is damaged"),
    "empty": (lambda tmp: _store(tmp, b""), r"is empty \(0 bytes\): not an auditbench results"),
    "foreign": (lambda tmp: _store(tmp, build=_foreign),
                r"not an auditbench results store: it has no 'jobs' table"),
    "no meta": (lambda tmp: _store(tmp, build=_no_meta),
                r"not an auditbench results store: it has no 'meta' table"),
    "a folder": (lambda tmp: _store(tmp, build=lambda p: p.mkdir()),
                 r"is not a file, so not an auditbench results store"),
}


@pytest.mark.parametrize("command", ["report", "card"])
@pytest.mark.parametrize("case", list(STORES))
def test_a_results_store_that_is_none(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, fragment = STORES[case]
    run = make(tmp_path)
    line = refused([command, str(run)], fragment, tmp_path, capsys)
    assert line.startswith(f"auditbench {command}: ") and "results.sqlite" in line


# ------------------------------------------------------------------------ output paths

def _no_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The output path is checked before any model is loaded."""
    import zoo

    def load_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded before --out was checked")

    monkeypatch.setattr(zoo, "load_model", load_model)


@pytest.mark.parametrize("argv", [["--suite", "quick"], ["--model", "mnist_cnn", "--quick"]])
@pytest.mark.parametrize(("out", "fragment"), [
    ("afile", r"--out afile is a file: give a directory"),
    ("afile/sub", r"--out afile/sub lies under afile, which is a file"),
    ("/proc/auditbench-nowhere", r"--out /proc/auditbench-nowhere cannot be created"),
])
def test_an_output_directory_that_cannot_be_one(
    argv: list[str], out: str, fragment: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    if out.startswith("/proc") and not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("mine\n", encoding="utf-8")
    _no_model_loads(monkeypatch)
    refused(["run", *argv, "--out", out], fragment, tmp_path, capsys)
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "mine\n"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into a read-only directory")
def test_an_output_directory_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        refused(["run", "--suite", "quick", "--out", str(locked)], "is not writable",
                tmp_path, capsys)
        refused(["run", "--suite", "quick", "--out", str(locked / "run")], "cannot be created",
                tmp_path, capsys)
    finally:
        locked.chmod(0o755)


# ------------------------------------------------------- a refused run leaves nothing behind

def test_a_refused_model_run_removes_its_audit_file_and_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here\n", encoding="utf-8")
    refused(["run", "--model", "mnist_cnn", "--data", "empty", "--quick", "--out",
             "deep/run"], "empty", tmp_path, capsys)
    # the preflight refuses the surrogate after audit.toml is written: it is removed again
    (tmp_path / "nets.py").write_text(FACTORIES, encoding="utf-8")
    refused(["run", "--model", "mnist_cnn", "--surrogate", "nets.py:boom", "--quick",
             "--out", "deep/run"], r"nets_boom_surrogate", tmp_path, capsys)


def test_a_refused_run_keeps_what_was_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = tmp_path / OUT
    run.mkdir()
    (run / "audit.toml").write_text("# my edits\n", encoding="utf-8")
    (run / "notes.txt").write_text("mine\n", encoding="utf-8")
    (tmp_path / "nets.py").write_text(FACTORIES, encoding="utf-8")
    refused(["run", "--model", "mnist_cnn", "--surrogate", "nets.py:boom", "--quick",
             "--out", OUT], r"nets_boom_surrogate", tmp_path, capsys)
    assert (run / "audit.toml").read_text(encoding="utf-8") == "# my edits\n"
    assert (run / "notes.txt").read_text(encoding="utf-8") == "mine\n"


def test_an_unknown_surrogate_is_refused_before_any_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _no_model_loads(monkeypatch)
    refused(["run", "--model", "mnist_cnn", "--surrogate", "mnist_cnnx", "--quick", "--out",
             OUT], r"unknown model 'mnist_cnnx' \(did you mean 'mnist_cnn'\?\)", tmp_path, capsys)


# ------------------------------------------------------------ perf, train, toy, list

def test_perf_train_and_toy_refuse_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.train
    from auditbench.commands import perf

    def never(*args: object, **kwargs: object) -> Any:
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(perf, "run_benchmarks", never)
    monkeypatch.setattr(bench.train, "train", never)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("mine\n", encoding="utf-8")
    corrupt = _store(tmp_path, bytes(range(256)) * 16)
    for argv, fragment in [
        (["perf", "--quick", "--out", "afile"], r"auditbench perf: --out .*afile is a file"),
        (["perf", "--quick", "--out", "afile/x"], r"--out .*afile/x lies under .*afile"),
        (["perf", "--compare", str(corrupt)], r"--compare: .*not an auditbench results store"),
        (["perf", "--device", "tpu"], r"--device must be auto or"),
        (["perf", "--threads", "0"], r"--threads must be >= 1"),
        (["perf", "--suite", "nosuch.toml"], r"suite file not found: nosuch\.toml"),
        (["train", "mnist_logreg", "--out", "afile/w.pt"], r"lies under afile, which is a file"),
        (["train", "mnist_logreg", "--out", str(tmp_path)], r"is a directory: give a file path"),
        (["train", "mnist_logreg", "--seed", str(2**70)], r"--seed must fit in 64 bits"),
        (["train", "mnist_cnnx"], r"no training config for 'mnist_cnnx'"),
        (["toy", "--eps", "nan"], r"eps must be finite"),
        (["list", "models"], r"unrecognized arguments: models"),
    ]:
        refused(argv, fragment, tmp_path, capsys)


# --------------------------------------------------------------------------- bugs

def test_a_bug_is_named_a_bug_and_debug_shows_its_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(args: object) -> int:
        raise TypeError("unsupported operand")

    monkeypatch.setitem(auditbench.cli.COMMANDS, "toy", broken)
    assert main(["toy"]) == 70
    err = capsys.readouterr().err
    assert "bug" in err and "TypeError: unsupported operand" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["--debug", "toy"]) == 70
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "bug" in err.splitlines()[-1]


def test_an_internal_value_error_is_not_taken_for_the_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain ValueError from deep inside a run is a bug (70), not a usage error (2)."""
    import bench.audit

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr(bench.audit, "write_audit_suite", broken)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--model", "mnist_cnn", "--quick", "--out", OUT]) == 70
    assert "bug" in capsys.readouterr().err

    def missing_asset(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError(2, "No such file or directory", "/nonexistent/zoo/asset.bin")

    # an OSError on a file of auditbench's own is a bug; on the user's path, the user's
    monkeypatch.setattr(bench.audit, "write_audit_suite", missing_asset)
    assert main(["run", "--model", "mnist_cnn", "--quick", "--out", OUT]) == 70
    assert "bug" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights").mkdir()
    refused(["run", "--model", "mnist_cnn", "--weights", "weights", "--quick", "--out", OUT],
            r"weights", tmp_path, capsys)


# ----------------------------------------------------------------- a real process

def test_a_real_process_refuses_in_one_line(tmp_path: Path) -> None:
    """The whole path, warnings included: exit 2, one line, no traceback, nothing written."""
    weights = _payload(tmp_path)
    before = listing(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "auditbench", "run", "--model", "mnist_cnn", "--weights",
         str(weights), "--quick", "--out", str(tmp_path / OUT)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "payload ran" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds pickled objects (posix.system)" in lines[0], done.stderr
    assert listing(tmp_path) == before


def test_perf_refuses_a_run_directory_another_run_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # perf writes the run's store like a suite run does: it takes the same lock, and a
    # directory another run holds is refused before any benchmark runs
    import auditbench.commands.perf as perf
    from bench.lock import hold

    ran: list[object] = []
    monkeypatch.setattr(perf, "run_benchmarks", lambda *a: ran.append(a) or 0)
    out = tmp_path / "run"
    with hold(out):
        assert main(["perf", "--quick", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "in use by process" in err and str(os.getpid()) in err and "\n" not in err
    assert not ran
