"""The timing section: what each method costs, as a multiple of the bare model and of the
reference implementation, per device, from the run's ``perf`` table.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.figures import PALETTE, house_style, to_data_uri
from bench.timing import add_ratios, ours_table

DEVICE_TITLES = {"cpu": "CPU", "cuda": "GPU (CUDA)"}
# ratio cells: near the floor is as fast as the passes allow
FLOOR_GOOD, AMBER = 1.05, 1.5
REFERENCE_GOOD = 1.0


def device_title(device: str) -> str:
    return DEVICE_TITLES.get(device, device)


def ratio_class(value: float | None, good: float) -> str:
    """CSS class of a ratio cell: ``r-good`` up to ``good``, ``r-warn`` up to 1.5x, else
    ``r-bad``; empty when there is no ratio.
    """
    if value is None or not math.isfinite(value):
        return ""
    if value <= good:
        return "r-good"
    return "r-warn" if value <= AMBER else "r-bad"


def _labels(table: pd.DataFrame) -> list[str]:
    """The method name, plus model, size and batch where they vary on this device."""
    varying = [k for k in ("model", "size", "batch") if table[k].nunique() > 1]
    fmt = {"model": "{}", "size": "{}px", "batch": "b{}"}
    labels = []
    for _, r in table.iterrows():
        extra = ", ".join(fmt[k].format(r[k]) for k in varying)
        name = r.get("variant") or r["method"]
        labels.append(f"{name} ({extra})" if extra else str(name))
    return labels


def _float(value: object) -> float | None:
    if value is None:  # a column with no value at all comes back from SQLite as None
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


CAP = 2.5  # the right end of a linear ratio axis


def ratios_figure(tables: dict[str, pd.DataFrame]) -> str:
    """Horizontal bars of ours / floor (top row) and ours / reference (bottom row) per method;
    one column per device, CPU and GPU side by side. A log axis when a panel's ratios span
    more than 20x.
    """
    devices = list(tables)
    measures = (("ratio_to_floor", "× floor", "no floor"),
                ("ratio_to_reference", "× reference", "no reference"))
    rows = max(len(t) for t in tables.values())
    width = 8.5 if len(devices) == 1 else 10.2
    with house_style():
        fig, axes = plt.subplots(
            2, len(devices), figsize=(width, 2 * (0.8 + 0.34 * rows)), squeeze=False)
        for j, device in enumerate(devices):
            table = tables[device]
            labels = _labels(table)
            y = np.arange(len(table))
            for i, (column, title, missing) in enumerate(measures):
                ax = axes[i, j]
                values = table[column].to_numpy(dtype=float)
                shown = np.isfinite(values) & (values > 0)
                finite = values[shown]
                log = len(finite) > 0 and finite.max() / min(finite.min(), 1.0) > 20
                top = max(1.0, finite.max()) if len(finite) else 1.0
                # linear axes stop at CAP: a few tiny-model outliers would squash every other
                # bar; a clipped bar ends in an arrow and still shows its true value
                cap = top * 1.3 if log else min(top * 1.3, CAP)
                drawn = np.minimum(finite, cap / 1.15)
                ax.barh(y[shown], drawn, color=PALETTE[i], height=0.6)
                ax.axvline(1.0, color="#444444", linewidth=1, linestyle="--")
                if log:
                    ax.set_xscale("log")
                    ax.set_xlim(min(0.5, finite.min() / 1.5), top * 4)
                else:
                    ax.set_xlim(0, cap)
                left = ax.get_xlim()[0]
                for k, v in enumerate(values):
                    if shown[k]:
                        clipped = not log and v > cap / 1.15
                        ax.text(min(v, cap / 1.15), k, f" {'▶ ' if clipped else ''}{v:.2f}×",
                                va="center", fontsize=8.5, color="#333333")
                    else:
                        ax.text(left, k, f" {missing}", va="center", fontsize=8.5,
                                color="#888888", style="italic")
                ax.set_yticks(y, labels)
                ax.set_ylim(rows - 0.5, -0.5)  # same bar height in every panel, first on top
                ax.grid(axis="y", visible=False)
                ax.set_title(f"{device_title(device)}: {title}", loc="left")
        fig.tight_layout()
    return to_data_uri(fig)


def memory_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Groups with a measured peak memory: one row each, MB per role."""
    if "peak_memory_mb" not in df:
        return []
    measured = df.dropna(subset=["peak_memory_mb"])
    out = []
    for group, rows in measured.groupby("group", sort=True):
        by_role = rows.groupby("role")["peak_memory_mb"].max()
        first = rows.iloc[0]
        out.append({"group": group, "method": first["method"], "model": first["model"],
                    "device": device_title(str(first["device"])), "batch": first["batch"],
                    **{role: _float(by_role[role]) if role in by_role else None
                       for role in ("ours", "reference", "floor")}})
    return out


def curve_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Groups that time a whole robustness curve: per budget, ours and the reference's robust
    accuracy (ours should be equal or lower: at least as strong), and the speed-up."""
    if "robust_accuracy" not in df:
        return []
    out = []
    for group, rows in df.dropna(subset=["robust_accuracy"]).groupby("group", sort=True):
        by_role = {r["role"]: r for _, r in rows.iterrows()}
        if "ours" not in by_role or "reference" not in by_role:
            continue
        ours, ref = by_role["ours"], by_role["reference"]
        eps = list(ours["eps"]) if isinstance(ours.get("eps"), list) else []
        # ours is a float32 mean, the reference a Python fraction: compare to 1e-6
        points = [{"eps": e, "ours": a, "reference": b, "stronger": a <= b + 1e-6}
                  for e, a, b in zip(eps, ours["robust_accuracy"], ref["robust_accuracy"],
                                     strict=False)]
        out.append({"group": group, "model": ours["model"], "device": device_title(
                        str(ours["device"])), "images": int(ours["batch"]),
                    "speedup": float(ref["median"]) / float(ours["median"]),
                    "points": points, "all_stronger": all(p["stronger"] for p in points)})
    return out


def timing_section(perf: pd.DataFrame | None) -> dict[str, Any] | None:
    """Per device, the table of ours vs floor and reference; the ratio figure; peak memory;
    the machine the timings come from. ``None`` when the run has no timings.
    """
    if perf is None or perf.empty:
        return None
    df = perf if "ratio_to_floor" in perf else add_ratios(perf)
    table = ours_table(df)
    devices = list(dict.fromkeys(table["device"]))
    tables = {d: table[table["device"] == d].reset_index(drop=True) for d in devices}
    out_devices = []
    for device, part in tables.items():
        rows = []
        for _, r in part.iterrows():
            floor, ref = _float(r["ratio_to_floor"]), _float(r["ratio_to_reference"])
            rows.append({
                "method": r.get("variant") or r["method"], "family": r["family"],
                "model": r["model"],
                "size": r["size"], "batch": r["batch"], "ours_ms": float(r["ours_ms"]),
                "iqr_ms": _float(r["iqr_ms"]),
                "floor_ms": None if floor is None else 1000 * float(r["floor_seconds"]),
                "reference_ms": None if ref is None else 1000 * float(r["reference_seconds"]),
                "ratio_to_floor": floor, "floor_class": ratio_class(floor, FLOOR_GOOD),
                "ratio_to_reference": ref,
                "reference_class": ratio_class(ref, REFERENCE_GOOD),
            })
        out_devices.append({"device": device, "title": device_title(device), "rows": rows})
    first = df.iloc[0]
    threads = sorted({int(t) for t in df["threads"].dropna()}) if "threads" in df else []
    return {
        "devices": out_devices,
        "figure": ratios_figure(tables) if len(table) else None,
        "memory": memory_rows(df),
        "curves": curve_rows(df),
        "machine": str(first.get("machine", "")),
        "datetime": str(first.get("datetime", "") or "").replace("T", " ")[:19],
        "torch_version": str(first.get("torch_version", "") or ""),
        "threads": threads,
        "benchmarks": len(df),
        "groups": int(df["group"].nunique()),
        "no_ours": sorted(set(df["group"]) - set(table["group"])),
    }
