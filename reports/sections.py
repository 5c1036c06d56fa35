"""From the stored rows to what each section of the page shows (plain dicts and figures).

Every function takes the rows of the run's current suite and returns ``None`` (or an empty
list) when the suite has no job of its kind, so the template can say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from reports.curves import NORM_TITLES, curve_label, dimension_figure, robustness_figure
from reports.generative import (
    class_models_figure,
    inversion_figure,
    losses_figure,
    neurons_figure,
    photos_figure,
)
from reports.images import examples_figure, fooling_figure
from reports.maps import agreement_rows, maps_figure
from reports.quality import quality_figure, quality_rows
from reports.representation import neighbours_figure, views_figure
from reports.stress import scaling_figure, stress_rows
from reports.timing import timing_section as _timing_section

ArtifactLoader = Callable[[str, str], dict[str, np.ndarray]]
# hyperparameters that can tell two curves of the same attack apart
CURVE_KEYS = ("steps", "rel_alpha", "alpha", "restarts", "loss", "random_start", "n", "seed",
              "weights")


def _kind(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    return df[df["kind"] == kind]


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df else pd.Series([None] * len(df), index=df.index)


def toy_section(df: pd.DataFrame) -> dict[str, Any] | None:
    toy = _kind(df, "toy")
    if toy.empty:
        return None
    toy = toy[toy["job_id"] == toy["job_id"].iloc[0]]  # one toy is enough to show
    per_i = toy.dropna(subset=["i"]).pivot_table(index="i", columns="metric", values="value")
    scalars = toy[toy["i"].isna()].set_index("metric")["value"]
    rows = [
        {"i": int(i), "x": r["x"], "w": r["w"], "x_adv": r["x_adv"], "wx": r["w"] * r["x"],
         "wx_adv": r["w"] * r["x_adv"]}
        for i, r in per_i.iterrows()
    ]
    return {"rows": rows, "eps": float(toy["eps"].iloc[0]), **scalars.to_dict()}


def dimension_section(df: pd.DataFrame) -> dict[str, Any] | None:
    dim = _kind(df, "dimension")
    if dim.empty:
        return None
    dim = dim[dim["job_id"] == dim["job_id"].iloc[0]]
    sweep = dim[dim["method"] == "dimension_sweep"].pivot_table(
        index="dim", columns="metric", values="value").reset_index()
    margin = dim[dim["method"] == "linear_model_shift"]
    return {
        "figure": dimension_figure(dim),
        "sweep": sweep.to_dict("records"),
        "model": margin["model_label"].dropna().iloc[0] if not margin.empty else "",
        "eps": float(dim.loc[dim["method"] == "dimension_sweep", "eps"].iloc[0])
        if not sweep.empty else None,
    }


def robustness_section(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Per norm: the curves figure and the table of robust accuracy by eps."""
    rob = _kind(df, "robustness")
    if rob.empty:
        return []
    attack_order = sorted(rob["method"].unique(), key=_attack_rank)
    labels = _curve_labels(rob)
    out = []
    for norm in sorted(rob["norm"].unique(), key=lambda n: list(NORM_TITLES).index(n)
                       if n in NORM_TITLES else 99):
        part = rob[rob["norm"] == norm]
        curves = part[part["metric"] == "robust_accuracy"].assign(
            curve=lambda d: d["job_id"].map(labels))
        curves = curves.assign(_rank=curves["method"].map(_attack_rank)).sort_values(
            ["_rank", "curve", "eps"], kind="stable")
        grid = sorted(curves["eps"].unique())
        table = []
        for job_id, job in part.groupby("job_id", sort=False):
            by_eps = job[job["metric"] == "robust_accuracy"].set_index("eps")["value"]
            metrics = job.drop_duplicates("metric").set_index("metric")["value"]
            table.append({
                "model": job["model_label"].iloc[0],
                "curve": labels[job_id],
                "rank": _attack_rank(job["method"].iloc[0]),
                "clean": metrics.get("clean_accuracy"),
                "values": [by_eps.get(e) for e in grid],
                "passes": metrics.get("gradient_passes"),
                "seconds": metrics.get("attack_seconds"),
                "n": _column(job, "n").iloc[0],
            })
        model_order = list(dict.fromkeys(curves["model_label"]))
        table.sort(key=lambda r: (model_order.index(r["model"]) if r["model"] in model_order
                                  else 99, r["rank"], r["curve"]))
        out.append({
            "norm": norm,
            "title": NORM_TITLES.get(norm, norm),
            "figure": robustness_figure(curves, norm, attack_order),
            "eps": grid,
            "rows": table,
        })
    return out


def _attack_rank(name: str) -> tuple[int, str]:
    """Weakest first, so the legend reads as escalation: FGSM, BIM, PGD, APGD, others."""
    known = ("fgsm", "bim", "pgd", "apgd")
    return (known.index(name) if name in known else len(known), name)


def _curve_labels(rob: pd.DataFrame) -> dict[str, str]:
    """Job id -> legend label: the attack name, plus the hyperparameters that differ between
    jobs of the same model, norm and attack (so two PGD curves are told apart).
    """
    jobs = rob.drop_duplicates("job_id")
    labels = {}
    for _, group in jobs.groupby(["model_label", "norm", "method"], sort=False):
        varying = [k for k in CURVE_KEYS if k in group and group[k].nunique(dropna=False) > 1]
        for _, row in group.iterrows():
            labels[row["job_id"]] = curve_label(row, varying)
    return labels


def examples_section(df: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    out = []
    for job_id, job in _kind(df, "examples").groupby("job_id", sort=False):
        first = job.iloc[0]
        art = artifact(job_id, "examples")
        metrics = job.set_index("metric")["value"]
        out.append({
            "model": first["model_label"], "attack": first["method"], "norm": first["norm"],
            "norm_title": NORM_TITLES.get(first["norm"], first["norm"]),
            "eps": float(first["eps"]), "success_rate": metrics.get("success_rate"),
            "figure": examples_figure(art, eps=float(first["eps"]), norm=first["norm"]),
        })
    return out


def fooling_section(df: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    out = []
    for job_id, job in _kind(df, "fooling").groupby("job_id", sort=False):
        first = job.iloc[0]
        art = artifact(job_id, "fooling")
        rate = job.loc[job["metric"] == "success_rate", "value"]
        out.append({
            "model": first["model_label"], "norm": NORM_TITLES.get(first["norm"], first["norm"]),
            "eps": float(first["eps"]), "steps": _column(job, "steps").iloc[0],
            "success_rate": float(rate.iloc[0]) if len(rate) else None,
            "figure": fooling_figure(art),
        })
    return out


def sanity_section(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for _, job in _kind(df, "sanity").groupby("job_id", sort=False):
        passed = job[job["metric"] == "passed"]
        values = job[job["metric"] == "check_value"].set_index("check")["value"]
        checks = [
            {"name": r["check"], "passed": bool(r["value"]), "detail": r.get("detail") or "",
             "value": values.get(r["check"])}
            for _, r in passed.iterrows()
        ]
        out.append({
            "model": job["model_label"].iloc[0], "checks": checks,
            "passed": sum(c["passed"] for c in checks), "total": len(checks),
            "eps": float(job["eps"].iloc[0]) if "eps" in job else None,
        })
    return out


def attribution_section(df: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    out = []
    for job_id, job in _kind(df, "attribution").groupby("job_id", sort=False):
        art = artifact(job_id, "maps")
        seconds = job[job["metric"] == "seconds_per_image"].set_index("method")["value"]
        out.append({
            "model": job["model_label"].iloc[0],
            "figure": maps_figure(art),
            "seconds": seconds.to_dict(),
        })
    return out


def agreement_section(df: pd.DataFrame) -> list[dict[str, Any]]:
    agreement = _kind(df, "agreement")
    return [] if agreement.empty else agreement_rows(agreement)


def quality_section(df: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    out = []
    for job_id, job in _kind(df, "quality").groupby("job_id", sort=False):
        rows = quality_rows(job)
        out.append({
            "model": job["model_label"].iloc[0],
            "n": int(job["n"].iloc[0]) if "n" in job else None,
            "figure": quality_figure(job, artifact(job_id, "curves")),
            "rows": rows,
            "masks": any(r["mass_inside_mask"] is not None for r in rows),
            "failed": [r["method"] for r in rows if r["passed"] is False],
        })
    return out


def representation_section(df: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    out = []
    for job_id, job in _kind(df, "representation").groupby("job_id", sort=False):
        art = artifact(job_id, "views")
        metrics = job.set_index("metric")["value"]
        out.append({
            "model": job["model_label"].iloc[0],
            "figure": views_figure(art),
            "neighbours": neighbours_figure(art),
            "n": len(art["labels"]),
            "agree_features": metrics.get("neighbour_label_agreement_features"),
            "agree_pixels": metrics.get("neighbour_label_agreement_pixels"),
            "receptive_field": metrics.get("receptive_field"),
            "layers": [str(s) for s in art["layers"]],
        })
    return out


def generative_section(df: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Per gallery job: the figures of each part it has, and the inversion table."""
    out = []
    for job_id, job in _kind(df, "gallery").groupby("job_id", sort=False):
        art = artifact(job_id, "gallery")
        metric = job["metric"]
        classes = job[(job["method"] == "class_model") & (metric == "target_probability")]
        probability = dict(zip(_column(classes, "variant"), classes["value"], strict=True))
        inversion = job[job["method"] == "feature_inversion"]
        index = [c for c in ("depth", "layer") if c in inversion]
        inversion_rows = [] if inversion.empty or not index else inversion.pivot_table(
            index=index, columns="metric", values="value", sort=False).reset_index().to_dict(
            "records")
        style = job[(job["method"] == "style_transfer")]
        evaluations = dict(zip(_column(style[style["metric"] == "evaluations"], "optimizer"),
                               style.loc[style["metric"] == "evaluations", "value"], strict=True))
        dream_steps = _column(job, "dream_steps").dropna()
        out.append({
            "model": job["model_label"].iloc[0],
            "class_names": [str(c) for c in art.get("class_names", [])],
            "class_models": class_models_figure(art, probability),
            "neurons": neurons_figure(art),
            "neuron_layers": [str(s) for s in art.get("neuron_layers", [])],
            "inversion": inversion_figure(art),
            "inversion_rows": inversion_rows,
            "photos": photos_figure(art),
            "dream_layer": str(art["dream_layer"][0]) if "dream_layer" in art else None,
            "style_layers": [str(s) for s in art.get("style_layers", [])],
            "style": [{"optimizer": {"lbfgs": "L-BFGS", "adam": "Adam"}.get(o, o),
                       **g.set_index("metric")["value"].to_dict()}
                      for o, g in style.groupby("optimizer", sort=False)]
            if "optimizer" in style else [],
            "losses": losses_figure(art, evaluations=evaluations, dream_steps=int(
                dream_steps.iloc[0]) if len(dream_steps) else None),
        })
    return out


def stress_section(df: pd.DataFrame) -> dict[str, Any] | None:
    """The stress table (every setting, failures marked) and the scaling figure."""
    stress = _kind(df, "stress")
    if stress.empty:
        return None
    rows = stress_rows(stress)
    figure, size = scaling_figure(rows)
    sources = sorted(set(_column(stress, "memory_source").dropna()))
    return {"rows": rows, "figure": figure, "depth_size": size, "memory_sources": sources,
            "failed": [r for r in rows if not r["finite"]]}


def timing_section(perf: pd.DataFrame | None) -> dict[str, Any] | None:
    """The run's ``perf`` table (``auditbench perf``) as tables and ratio bars per device;
    ``None`` when the run was never timed.
    """
    return _timing_section(perf)
