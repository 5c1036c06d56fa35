"""The robustness section: per norm, one panel per model with a line per attack (and per
setting where two runs of one attack differ), and the table of robust accuracy by eps with
every run's settings."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import PercentFormatter

from bench.figures import NORM_TITLES, color_for, house_style, to_data_uri
from bench.kind import ArtifactLoader, get_kind
from bench.kinds.robustness.job import (
    ATTACK_SECONDS,
    CLEAN_ACCURACY,
    GRADIENT_PASSES,
    LEFT_OUT,
    ROBUST_ACCURACY,
)
from bench.schema import setting_columns

#: what each row carries besides the job's config
ROW_KEYS = ("model_label", "method", "weights_sha256", "eps")
#: the kind's parameters that tell two curves of one model, norm and attack apart
CURVE_PARAMS = ("n", "seed", "weights", "batch_size", "reuse")
#: legend order: the gradient attacks weakest first, then those that need no gradient of the
#: model, then the ensemble
KNOWN = ("fgsm", "bim", "pgd", "apgd", "transfer", "square", "autoattack")


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Per norm: the curves figure and the table of robust accuracy by eps."""
    if rows.empty:
        return []
    settings = setting_columns(get_kind("robustness"), rows, ROW_KEYS)
    labels = _curve_labels(rows, settings)
    attack_order = sorted(rows["method"].unique(), key=attack_rank)
    norms = sorted(rows["norm"].unique(),
                   key=lambda n: list(NORM_TITLES).index(n) if n in NORM_TITLES else 99)
    left = rows["metric"] == LEFT_OUT
    parts = []
    for norm in norms:
        mine = rows["norm"] == norm
        part = (_norm_part(rows[mine & ~left], norm, labels, settings, attack_order)
                if (mine & ~left).any() else
                {"norm": norm, "title": NORM_TITLES.get(norm, norm), "figure": None,
                 "eps": [], "rows": []})
        part["left_out"] = [{"model": r["model_label"], "attack": r["method"],
                             "reason": r.get("reason") or ""}
                            for _, r in rows[mine & left].iterrows()]
        parts.append(part)
    return parts


def _norm_part(part: pd.DataFrame, norm: str, labels: dict[str, str], settings: list[str],
               attack_order: list[str]) -> dict[str, Any]:
    curves = part[part["metric"] == ROBUST_ACCURACY].assign(
        curve=lambda d: d["job_id"].map(labels))
    curves = curves.assign(_rank=curves["method"].map(attack_rank)).sort_values(
        ["_rank", "curve", "eps"], kind="stable")
    grid = sorted(curves["eps"].unique())
    table = []
    for job_id, job in part.groupby("job_id", sort=False):
        by_eps = job[job["metric"] == ROBUST_ACCURACY].set_index("eps")["value"]
        metrics = job.drop_duplicates("metric").set_index("metric")["value"]
        first = job.iloc[0]
        table.append({
            "model": first["model_label"],
            "curve": labels[job_id],
            "rank": attack_rank(first["method"]),
            "settings": ", ".join(f"{k}={_fmt(first[k])}" for k in settings
                                  if pd.notna(first.get(k))),
            "clean": metrics.get(CLEAN_ACCURACY),
            "values": [by_eps.get(e) for e in grid],
            "passes": metrics.get(GRADIENT_PASSES),
            "seconds": metrics.get(ATTACK_SECONDS),
            "n": first.get("n"),
        })
    model_order = list(dict.fromkeys(curves["model_label"]))
    table.sort(key=lambda r: (model_order.index(r["model"]) if r["model"] in model_order
                              else 99, r["rank"], r["curve"]))
    return {"norm": norm, "title": NORM_TITLES.get(norm, norm),
            "figure": robustness_figure(curves, norm, attack_order), "eps": grid,
            "rows": table}


def attack_rank(name: str) -> tuple[int, str]:
    """``KNOWN``'s order, so the legend reads as escalation; others after, by name."""
    return (KNOWN.index(name) if name in KNOWN else len(KNOWN), name)


def _curve_labels(rows: pd.DataFrame, settings: list[str]) -> dict[str, str]:
    """Job id -> legend label: the attack name, plus the settings and parameters that differ
    between jobs of the same model, norm and attack (so two PGD curves are told apart)."""
    jobs = rows.drop_duplicates("job_id")
    candidates = [*settings, *CURVE_PARAMS]
    labels = {}
    for _, group in jobs.groupby(["model_label", "norm", "method"], sort=False):
        varying = [k for k in candidates if k in group and group[k].nunique(dropna=False) > 1]
        for _, row in group.iterrows():
            extra = ", ".join(f"{k}={_fmt(row[k])}" for k in varying if pd.notna(row.get(k)))
            labels[row["job_id"]] = f"{row['method']} ({extra})" if extra else str(row["method"])
    return labels


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def robustness_figure(curves: pd.DataFrame, norm: str, attack_order: list[str]) -> str:
    """One panel per model, one line per attack configuration, for one norm.

    ``curves``: columns model_label, curve, method, eps, value (robust accuracy, 0..1).
    """
    models = list(dict.fromkeys(curves["model_label"]))
    cols = min(len(models), 3)
    rows = math.ceil(len(models) / cols)
    with house_style():
        fig, axes = plt.subplots(rows, cols, figsize=(3.7 * cols, 3.2 * rows), sharey=True,
                                 squeeze=False)
        for ax, model in zip(axes.flat, models, strict=False):
            panel = curves[curves["model_label"] == model]
            for curve, line in panel.groupby("curve", sort=False):
                line = line.sort_values("eps")
                ax.plot(line["eps"], line["value"], marker="o", ms=4, lw=2,
                        color=color_for(line["method"].iloc[0], attack_order), label=curve,
                        ls=_dash(curve, panel))
            ax.set_title(model)
            ax.set_xlabel(f"ε ({NORM_TITLES.get(norm, norm)}, pixel units)")
            ax.set_ylim(-0.03, 1.03)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.legend(loc="best")
        for ax in axes[:, 0]:
            ax.set_ylabel("robust accuracy")
        for ax in list(axes.flat)[len(models):]:
            ax.set_visible(False)
        fig.tight_layout()
        return to_data_uri(fig)


def _dash(curve: str, panel: pd.DataFrame) -> str:
    """Solid for the first configuration of an attack, dashed for further ones; dotted for a
    curve run at fewer budgets than the panel's densest (its line only joins the budgets it
    was run at: it says nothing in between)."""
    points = panel.groupby("curve")["eps"].nunique()
    if points[curve] < points.max():
        return ":"
    method = panel.loc[panel["curve"] == curve, "method"].iloc[0]
    same = list(dict.fromkeys(panel.loc[panel["method"] == method, "curve"]))
    return "-" if same.index(curve) == 0 else "--"
