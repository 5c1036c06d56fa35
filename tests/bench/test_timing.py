"""Timings: pytest-benchmark JSON into pandas, ratios, run comparison, the store, ``perf``."""

from __future__ import annotations

import copy
import json
import math
import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest

import auditbench.commands.perf as cli_perf
import bench
from auditbench.cli import main
from bench.store import Store, load, load_jobs, load_perf, write_perf
from bench.timing import add_ratios, compare, load_benchmarks, machine_id, ours_table

SAMPLE = Path(__file__).parent / "data" / "perf_sample.json"
RAW = json.loads(SAMPLE.read_text())
CPU_PGD = "attack/pgd/tiny_cnn/28px/b8/cpu"


def _median(name: str) -> float:
    """The median recomputed by hand from the rounds the file kept."""
    (found,) = [b for b in RAW["benchmarks"] if b["name"] == name]
    return statistics.median(found["stats"]["data"])


@pytest.fixture
def df() -> pd.DataFrame:
    return add_ratios(load_benchmarks(SAMPLE))


def test_loader_has_one_row_per_benchmark_with_typed_columns() -> None:
    frame = load_benchmarks(SAMPLE)
    assert len(frame) == len(RAW["benchmarks"]) == 15
    for column in ("name", "fullname", "group", "role", "family", "method", "model", "size",
                   "batch", "device", "dtype", "threads", "passes", "grad_passes", "params",
                   "torch_version", "peak_memory_mb", "robust_accuracy", "eps", "min", "max",
                   "mean", "median", "stddev", "rounds", "iqr", "machine", "datetime"):
        assert column in frame, column
    for column in ("size", "batch", "threads", "passes", "grad_passes", "rounds"):
        assert pd.api.types.is_integer_dtype(frame[column]), column
    for column in ("min", "max", "mean", "median", "stddev", "iqr", "peak_memory_mb"):
        assert pd.api.types.is_float_dtype(frame[column]), column
    assert set(frame["role"]) == {"ours", "reference", "floor"}
    assert frame["params"].map(type).eq(str).all()  # kept as the JSON string it was
    assert json.loads(frame["params"].iloc[0]) == {"eps": 0.03, "steps": 10}
    curve = frame[frame["method"] == "robustness"].iloc[0]
    assert curve["robust_accuracy"] == [0.875, 0.5, 0.125] and curve["eps"] == [0, 0.1, 0.3]
    assert frame["machine"].nunique() == 1
    assert frame["machine"].iloc[0] == machine_id(RAW["machine_info"])
    assert "Intel" in frame["machine"].iloc[0] and "2 cpus" in frame["machine"].iloc[0]
    # stats in seconds, as pytest-benchmark wrote them
    row = frame.set_index("name").loc["test_method[pgd-cpu-ours]"]
    assert row["median"] == pytest.approx(_median("test_method[pgd-cpu-ours]"), rel=1e-12)
    assert row["min"] <= row["median"] <= row["max"] and row["rounds"] == 7


def test_loader_accepts_dicts_text_and_run_directories(tmp_path: Path) -> None:
    shutil.copy(SAMPLE, tmp_path / "perf.json")
    for source in (RAW, SAMPLE.read_text(), str(SAMPLE), tmp_path):
        assert len(load_benchmarks(source)) == 15
    with pytest.raises(FileNotFoundError, match="no pytest-benchmark JSON"):
        load_benchmarks(tmp_path / "nope.json")


def test_ratios_are_medians_over_the_groups_floor_and_reference(df: pd.DataFrame) -> None:
    by_name = df.set_index("name")
    ours = by_name.loc["test_method[pgd-cpu-ours]"]
    floor = _median("test_method[pgd-cpu-floor]")
    reference = _median("test_method[pgd-cpu-reference]")
    mine = _median("test_method[pgd-cpu-ours]")
    assert ours["floor_seconds"] == pytest.approx(floor, rel=1e-12)
    assert ours["reference_seconds"] == pytest.approx(reference, rel=1e-12)
    assert ours["ratio_to_floor"] == pytest.approx(mine / floor, rel=1e-12)
    assert ours["ratio_to_reference"] == pytest.approx(mine / reference, rel=1e-12)
    # every group uses its own yardsticks: the cuda group is not measured against cpu
    gpu = by_name.loc["test_method[pgd-cuda-ours]"]
    assert gpu["ratio_to_floor"] == pytest.approx(
        _median("test_method[pgd-cuda-ours]") / _median("test_method[pgd-cuda-floor]"))
    assert by_name.loc["test_method[pgd-cpu-floor]", "ratio_to_floor"] == 1.0
    assert by_name.loc["test_method[pgd-cpu-reference]", "ratio_to_reference"] == 1.0


def test_groups_without_a_reference_or_floor_give_nan(df: pd.DataFrame) -> None:
    generative = df[df["family"] == "generative"]
    assert len(generative) == 2 and generative["ratio_to_reference"].isna().all()
    assert generative["reference_seconds"].isna().all()
    assert generative["ratio_to_floor"].notna().all()
    curve = df[df["family"] == "curve"]  # ours and reference only
    assert curve["ratio_to_floor"].isna().all() and curve["ratio_to_reference"].notna().all()


def test_ours_table_is_one_row_per_group_cpu_first(df: pd.DataFrame) -> None:
    table = ours_table(df)
    assert len(table) == df["group"].nunique() == 6
    assert list(table["device"]) == ["cpu"] * 5 + ["cuda"]
    row = table[table["group"] == CPU_PGD].iloc[0]
    assert row["ours_ms"] == pytest.approx(1000 * _median("test_method[pgd-cpu-ours]"))


def _other_machine() -> dict:
    raw = copy.deepcopy(RAW)
    raw["machine_info"]["node"] = "elsewhere"
    raw["machine_info"]["cpu"]["count"] = 64
    return raw


def test_compare_gives_new_over_old_per_benchmark(df: pd.DataFrame) -> None:
    raw = copy.deepcopy(RAW)
    for entry in raw["benchmarks"]:
        entry["stats"]["median"] *= 2.0  # the "old" run was twice as slow
    raw["benchmarks"] = raw["benchmarks"][:-1]
    table = compare(df, load_benchmarks(raw))
    assert len(table) == 14
    assert table["ratio"].to_numpy() == pytest.approx(0.5)
    assert (table["median_new"] / table["median_old"]).to_numpy() == pytest.approx(0.5)
    assert table["same_machine"].all() and not table.attrs["other_machine"]
    assert table.attrs["only_new"] == [RAW["benchmarks"][-1]["fullname"]]


def test_compare_refuses_two_machines_unless_allowed(df: pd.DataFrame) -> None:
    other = load_benchmarks(_other_machine())
    with pytest.raises(ValueError, match="different machines") as info:
        compare(df, other)
    assert df["machine"].iloc[0] in str(info.value) and "elsewhere" in str(info.value)
    table = compare(df, other, allow_other_machine=True)
    assert table.attrs["other_machine"] and not table["same_machine"].any()
    assert table["ratio"].to_numpy() == pytest.approx(1.0)


def test_perf_table_round_trips_through_the_store(df: pd.DataFrame, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert load_perf(run) is None  # no store at all
    with Store(run):
        pass
    assert load_perf(run) is None  # a store without timings
    write_perf(run, df)
    back = load_perf(run)
    assert back is not None
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert list(back.columns) == list(df.columns)
    assert back.loc[back["method"] == "robustness", "robust_accuracy"].iloc[0] == [
        0.875, 0.5, 0.125]
    # a second perf run replaces the first: no duplicates, other tables untouched
    write_perf(run, df.head(3))
    assert len(load_perf(run)) == 3
    assert load(run).empty and load_jobs(run).empty


def test_a_failed_perf_write_leaves_the_previous_table(df: pd.DataFrame, tmp_path: Path) -> None:
    write_perf(tmp_path, df)
    with pytest.raises(ValueError, match="plain lower-case name"):
        write_perf(tmp_path, df.rename(columns={"method": "Bad Name"}))
    assert len(load_perf(tmp_path)) == 15


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], Path]]:
    """Stands in for the pytest subprocess: writes the sample where --benchmark-json says."""
    calls: list[tuple[list[str], Path]] = []

    def run(command: list[str], cwd: Path) -> int:
        calls.append((command, cwd))
        shutil.copy(SAMPLE, command[command.index("--benchmark-json") + 1])
        return 0

    monkeypatch.setattr(cli_perf, "run_benchmarks", run)
    return calls


def test_perf_runs_the_suite_stores_it_and_prints_the_table(
    fake_runner: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "perf"
    assert main(["perf", "--out", str(out), "--device", "cpu,cuda", "--quick", "--threads",
                 "1", "-k", "pgd"]) == 0
    (command, cwd), = fake_runner
    assert command[1:6] == ["-m", "pytest", "bench/perf", "-p", "no:cacheprovider"]
    assert command[command.index("--perf-device") + 1] == "cpu,cuda"
    assert "--perf-quick" in command and command[command.index("--perf-threads") + 1] == "1"
    assert command[command.index("-k") + 1] == "pgd"
    assert cwd == Path(bench.__file__).resolve().parent.parent  # the repository root
    assert json.loads((out / "perf.json").read_text()) == RAW  # the raw JSON, kept
    assert len(load_perf(out)) == 15
    assert (out / "index.html").is_file()
    printed = capsys.readouterr().out
    table = printed[printed.index("method"):]
    assert "ours ms" in table and "x floor" in table and "x ref" in table
    ours_ms = 1000 * _median("test_method[pgd-cpu-ours]")
    ratio = _median("test_method[pgd-cpu-ours]") / _median("test_method[pgd-cpu-floor]")
    assert f"{ours_ms:.3f}" in table and f"{ratio:.2f}x" in table
    assert len([line for line in table.splitlines() if "tiny_cnn" in line]) == 6


def test_perf_compare_uses_stored_timings_without_rerunning(
    fake_runner: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new, old = tmp_path / "new", tmp_path / "old"
    new.mkdir()
    shutil.copy(SAMPLE, new / "perf.json")
    raw = copy.deepcopy(RAW)
    for entry in raw["benchmarks"]:
        entry["stats"]["median"] *= 4.0
    write_perf(old, add_ratios(load_benchmarks(raw)))  # the store only, no perf.json
    assert main(["perf", "--out", str(new), "--compare", str(old)]) == 0
    assert fake_runner == []
    out = capsys.readouterr().out
    assert "15 benchmarks in both" in out and "0.25" in out and "warning" not in out


def test_perf_compare_refuses_another_machine(
    fake_runner: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new, old = tmp_path / "new", tmp_path / "old"
    new.mkdir()
    old.mkdir()
    shutil.copy(SAMPLE, new / "perf.json")
    (old / "perf.json").write_text(json.dumps(_other_machine()))
    assert main(["perf", "--out", str(new), "--compare", str(old)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "different machines" in lines[0] and "elsewhere" in lines[0]
    assert machine_id(RAW["machine_info"]) in lines[0] and "Traceback" not in captured.err
    assert main(["perf", "--out", str(new), "--compare", str(old),
                 "--allow-other-machine"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("warning: comparing timings from different machines")
    assert fake_runner == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["perf", "--device", "tpu"], "--device must be auto or a comma-separated list"),
        (["perf", "--device", "cpu,cpu"], "--device must be auto"),
        (["perf", "--threads", "0"], "--threads must be >= 1"),
        (["perf", "--compare", "/nonexistent/run"], "no timings in /nonexistent/run"),
    ],
)
def test_bad_perf_arguments_exit_2(
    argv: list[str], message: str, fake_runner: list, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert fake_runner == []


def test_perf_fails_when_the_benchmarks_write_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_perf, "run_benchmarks", lambda command, cwd: 4)
    assert main(["perf", "--out", str(tmp_path / "p")]) == 4
    assert "wrote no" in capsys.readouterr().err
    assert load_perf(tmp_path / "p") is None


def test_machine_id_is_stable_and_tolerates_missing_fields() -> None:
    assert machine_id(RAW["machine_info"]) == machine_id(copy.deepcopy(RAW["machine_info"]))
    assert machine_id({}) == "unknown host · unknown cpu · ? cpus"
    assert not math.isnan(load_benchmarks(RAW)["median"].sum())
