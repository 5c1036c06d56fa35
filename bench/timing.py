"""pytest-benchmark JSON -> pandas: one row per benchmark, ratios to the floor and reference.

The perf suite (``bench/perf/``) groups one method's implementations together:
``group = "{family}/{method}/{model}/{size}px/b{batch}/{device}"``, and each benchmark's
``extra_info`` says its ``role``: ``ours``, ``reference`` (Captum, torchattacks) or ``floor``
(the bare model doing the same forward/backward passes). The headline figure is a ratio of
medians measured in one run on one machine, so ``compare`` refuses two machines by default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

FILENAME = "perf.json"
STATS = ("min", "max", "mean", "median", "stddev", "rounds", "iqr")
# extra_info keys the perf suite always sets, in the order the frame shows them
KEYS = ("role", "family", "method", "model", "size", "batch", "device", "dtype", "threads",
        "passes", "grad_passes", "params", "torch_version")
INT_KEYS = ("size", "batch", "threads", "passes", "grad_passes", "rounds")
_OWN = ("name", "fullname", "group", *STATS, "machine", "datetime")


def read_json(path_or_json: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The benchmark JSON as a dict, from a dict, JSON text, a file, or a run directory."""
    if isinstance(path_or_json, Mapping):
        return dict(path_or_json)
    if isinstance(path_or_json, str) and path_or_json.lstrip().startswith("{"):
        return json.loads(path_or_json)
    path = Path(path_or_json)
    if path.is_dir():
        path = path / FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"no pytest-benchmark JSON at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def machine_id(machine_info: Mapping[str, Any]) -> str:
    """A stable id of the machine: host name, CPU brand and CPU count."""
    cpu = machine_info.get("cpu") or {}
    brand = cpu.get("brand_raw") or machine_info.get("processor") or "unknown cpu"
    count = cpu.get("count")
    return f"{machine_info.get('node') or 'unknown host'} · {brand} · {count or '?'} cpus"


def load_benchmarks(path_or_json: str | Path | Mapping[str, Any]) -> pd.DataFrame:
    """One row per benchmark: names, group, every ``extra_info`` key, stats in seconds.

    ``params`` stays the JSON string it was written as; list-valued measurements (such as
    ``robust_accuracy``) stay lists. An ``extra_info`` key that clashes with a column of our
    own is kept as ``extra_<key>``.
    """
    data = read_json(path_or_json)
    machine = machine_id(data.get("machine_info") or {})
    rows = []
    for bench in data.get("benchmarks") or []:
        stats = bench.get("stats") or {}
        row: dict[str, Any] = {k: bench.get(k) for k in ("name", "fullname", "group")}
        row.update({k: None for k in KEYS})
        for key, value in (bench.get("extra_info") or {}).items():
            row[f"extra_{key}" if key in _OWN else key] = value
        row.update({k: stats.get(k) for k in STATS})
        row.update(machine=machine, datetime=data.get("datetime"))
        rows.append(row)
    columns = ["name", "fullname", "group", *KEYS]
    df = pd.DataFrame(rows, columns=None if rows else [*columns, *STATS, "machine", "datetime"])
    extras = [c for c in df.columns if c not in columns and c not in _OWN]
    df = df[[*columns, *extras, *STATS, "machine", "datetime"]]
    for key in INT_KEYS:
        df[key] = pd.to_numeric(df[key]).astype("int64" if df[key].notna().all() else "Int64")
    for key in ("min", "max", "mean", "median", "stddev", "iqr"):
        df[key] = pd.to_numeric(df[key]).astype("float64")
    if "peak_memory_mb" in df:
        df["peak_memory_mb"] = pd.to_numeric(df["peak_memory_mb"]).astype("float64")
    return df


def _role_median(df: pd.DataFrame, role: str) -> pd.Series:
    # one floor/reference per group; if a group had two, the faster one is the fair bar
    medians = df[df["role"] == role].groupby("group")["median"].min()
    return df["group"].map(medians).astype("float64")


def add_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``floor_seconds``, ``reference_seconds`` (the group's medians) and
    ``ratio_to_floor``, ``ratio_to_reference`` (this median over them; NaN where the group
    has no such row). Rows must come from one run.
    """
    out = df.copy()
    out["floor_seconds"] = _role_median(out, "floor")
    out["reference_seconds"] = _role_median(out, "reference")
    out["ratio_to_floor"] = out["median"] / out["floor_seconds"]
    out["ratio_to_reference"] = out["median"] / out["reference_seconds"]
    return out


def compare(
    df_new: pd.DataFrame, df_old: pd.DataFrame, *, allow_other_machine: bool = False
) -> pd.DataFrame:
    """Per benchmark in both runs (matched on ``fullname``): both medians and
    ``ratio = median_new / median_old`` (below 1: the new run is faster).

    Raises ``ValueError`` naming both machines when the runs come from different machines,
    unless ``allow_other_machine``; then the ``same_machine`` column and
    ``attrs["other_machine"]`` say so.
    """
    new_machines = sorted(set(df_new["machine"].dropna()))
    old_machines = sorted(set(df_old["machine"].dropna()))
    same = new_machines == old_machines
    if not same and not allow_other_machine:
        raise ValueError(
            f"the runs come from different machines: new on {', '.join(new_machines) or '?'}, "
            f"old on {', '.join(old_machines) or '?'}; timings compare only on one machine "
            "(allow_other_machine=True compares them anyway)")
    keys = ["fullname", "name", "group", "role", "family", "method", "model", "size", "batch",
            "device"]
    old = df_old[["fullname", "median"]].drop_duplicates("fullname")
    merged = df_new[keys + ["median"]].drop_duplicates("fullname").merge(
        old, on="fullname", how="inner", suffixes=("_new", "_old"))
    merged["ratio"] = merged["median_new"] / merged["median_old"]
    merged["same_machine"] = same
    merged.attrs.update(
        other_machine=not same, machine_new=", ".join(new_machines),
        machine_old=", ".join(old_machines),
        only_new=sorted(set(df_new["fullname"]) - set(df_old["fullname"])),
        only_old=sorted(set(df_old["fullname"]) - set(df_new["fullname"])))
    return merged


def ours_table(df: pd.DataFrame) -> pd.DataFrame:
    """The compact view: one row per group's ``ours`` benchmark, median in milliseconds and
    its ratios, ordered by device, family, method, model, size and batch.
    """
    if "ratio_to_floor" not in df:
        df = add_ratios(df)
    ours = df[df["role"] == "ours"].copy()
    ours["ours_ms"] = 1000 * ours["median"]
    ours["iqr_ms"] = 1000 * ours["iqr"]
    # the method as its group names it: pgd-l2 and pgd-linf are two benchmarks
    ours["variant"] = ours["group"].map(lambda g: str(g).split("/")[1] if g else "")
    columns = ["group", "family", "method", "variant", "model", "size", "batch", "device",
               "ours_ms", "iqr_ms", "ratio_to_floor", "ratio_to_reference", "floor_seconds",
               "reference_seconds"]
    device_rank = ours["device"].map(lambda d: (0 if d == "cpu" else 1, str(d)))
    order = ours.assign(_device=device_rank).sort_values(
        ["_device", "family", "method", "model", "size", "batch"], kind="stable")
    return order[columns].reset_index(drop=True)

