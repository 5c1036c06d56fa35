"""Bad inputs through every door get one clear line and change nothing on disk.

The table (``tests/matrix/bad_inputs.py``) holds 91 distinct bad inputs: 26 suite files (each
run both by ``auditbench run --suite`` and by ``auditbench.run_suite``), 29 command lines in
process, 2 through a real ``python -m auditbench`` and 34 library calls. For the command
line: exit status 2, stderr exactly one non-empty line naming the problem, no traceback. For
the library: ``zoo.errors.UserError`` whose message is one line naming the problem. For
both: every file in the case's folder (names and sizes) is as before and no run directory
appears. None of the cases may start a job: they must be refused before the first one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.matrix.bad_inputs import CASES, OUT, Case
from zoo.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


def doors(*names: str) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in CASES if c.door in names]


def snapshot(folder: Path) -> dict[str, int]:
    """Every file and folder under ``folder``: relative name -> size (-1 for a folder)."""
    return {p.relative_to(folder).as_posix(): (-1 if p.is_dir() else p.stat().st_size)
            for p in sorted(folder.rglob("*"))}


class JobWouldStart(BaseException):
    """Raised in place of the first job: the input passed every check before the run (a
    BaseException, so no ``except Exception`` on the way turns it into an error message)."""


@pytest.fixture
def case_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The case's folder, also the working directory: a default ``runs/`` would land here.

    The runner's check before the first job is wrapped: an input it lets through stops the
    run there (a bad input must be refused by then, and the matrix must stay cheap)."""
    import bench.runner

    checked = bench.runner.preflight

    def preflight_then_stop(*args: Any, **kwargs: Any) -> Any:
        checked(*args, **kwargs)
        raise JobWouldStart("the input passed the checks before the first job")

    monkeypatch.setattr(bench.runner, "preflight", preflight_then_stop)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUDITBENCH_DEBUG", raising=False)
    return tmp_path


def assert_one_line(message: str, case: Case) -> None:
    lines = message.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].strip(), f"not one line: {message!r}"
    assert "Traceback" not in message
    assert re.search(case.fragment, lines[0], flags=re.IGNORECASE), (
        f"{lines[0]!r} does not name the problem ({case.fragment!r})")


def assert_nothing_written(folder: Path, before: dict[str, int]) -> None:
    after = snapshot(folder)
    changed = sorted(name for name in before.keys() | after.keys()
                     if before.get(name) != after.get(name))
    assert changed == [], f"a refused input wrote or changed {changed}"
    assert not (folder / OUT).exists()


#: the warnings Python's default filters do not show outside ``__main__``
HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``main(argv)``; stderr with the warnings a real
    process would print there (pytest would otherwise collect them out of sight)."""
    from auditbench.cli import main
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for category in HIDDEN:
            warnings.simplefilter("ignore", category)
        code = main(argv)
    captured = capsys.readouterr()
    shown = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
                    for w in caught)
    return code, captured.out, shown + captured.err


def check_cli(code: int, out: str, err: str, case: Case) -> None:
    assert "Traceback" not in out + err
    assert code == 2, f"exit {code}; stderr: {err!r}"
    assert_one_line(err, case)


def check_api(call: Callable[[], Any], case: Case) -> None:
    with pytest.raises(UserError) as info:
        call()
    assert_one_line(str(info.value), case)


def test_the_table_is_at_least_45_distinct_inputs() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) >= 45
    assert {c.door for c in CASES} == {"cli", "proc", "suite", "api"}
    assert len(doors("proc")) >= 2
    count = __doc__.split("holds ")[1].split()[0]
    assert int(count) == len(CASES), "the module docstring's count is out of date"


@pytest.mark.parametrize("case", doors("cli"))
def test_command_line(case: Case, case_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = case.setup(case_dir)
    before = snapshot(case_dir)
    check_cli(*cli(argv, capsys), case)
    assert_nothing_written(case_dir, before)


@pytest.mark.parametrize("case", doors("suite"))
def test_suite_file_by_the_command_line(case: Case, case_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = case.setup(case_dir)
    before = snapshot(case_dir)
    argv = ["run", "--suite", str(path), "--out", str(case_dir / OUT), "--no-report"]
    check_cli(*cli(argv, capsys), case)
    assert_nothing_written(case_dir, before)


@pytest.mark.parametrize("case", doors("suite"))
def test_suite_file_by_the_api(case: Case, case_dir: Path) -> None:
    from auditbench import run_suite
    path = case.setup(case_dir)
    before = snapshot(case_dir)
    check_api(lambda: run_suite(path, case_dir / OUT, report=False), case)
    assert_nothing_written(case_dir, before)


@pytest.mark.parametrize("case", doors("api"))
def test_python_api(case: Case, case_dir: Path) -> None:
    call = case.setup(case_dir)
    before = snapshot(case_dir)
    check_api(call, case)
    assert_nothing_written(case_dir, before)


@pytest.mark.parametrize("case", doors("proc"))
def test_a_real_process(case: Case, case_dir: Path) -> None:
    argv = case.setup(case_dir)
    before = snapshot(case_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("AUDITBENCH_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "auditbench", *argv], cwd=case_dir, env=env,
                          capture_output=True, text=True, check=False)
    check_cli(done.returncode, done.stdout, done.stderr, case)
    assert_nothing_written(case_dir, before)
