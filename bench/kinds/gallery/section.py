"""The gallery section: per gallery job, the figure of each part it has (class models,
channels, inversion, dream and style, objectives) and the inversion table by depth."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.figures import name_list, shared_prefix
from bench.kind import ArtifactLoader
from bench.kinds.attribution_calls import LEFT_OUT
from bench.kinds.gallery.figures import (
    class_model_ids,
    class_models_figure,
    class_models_shown,
    inversion_figure,
    inversion_shown,
    losses_figure,
    neurons_figure,
    optimizer_title,
    photos_figure,
)
from bench.kinds.gallery.job import (
    ARTIFACT,
    CLASS_MODEL,
    EVALUATIONS,
    INVERSION,
    STYLE,
    TARGET_PROBABILITY,
)


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Per gallery job: the figures of each part it has, and the inversion table."""
    return [_job(job, artifact(job_id, ARTIFACT))
            for job_id, job in rows.groupby("job_id", sort=False)]


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    """A column that rows of no job have yet (``variant`` when no job made class models)."""
    return df[name] if name in df else pd.Series([None] * len(df), index=df.index)


#: how the parts are named where the page says one was left out
PART_TITLES = {"neuron_visualisation": "channel visualisations",
               "feature_inversion": "feature inversion", "deep_dream": "DeepDream",
               "style_transfer": "style transfer"}


def _job(job: pd.DataFrame, art: dict[str, np.ndarray]) -> dict[str, Any]:
    out = job[job["metric"] == LEFT_OUT]
    left_out = [{"part": PART_TITLES.get(str(r["method"]), str(r["method"])),
                 "reason": str(r.get("reason", ""))} for _, r in out.iterrows()]
    job = job[job["metric"] != LEFT_OUT]
    classes = job[(job["method"] == CLASS_MODEL) & (job["metric"] == TARGET_PROBABILITY)]
    probability = dict(zip(_column(classes, "variant"), classes["value"], strict=True))
    style = job[job["method"] == STYLE]
    passes = style[style["metric"] == EVALUATIONS]
    evaluations = dict(zip(_column(passes, "optimizer"), passes["value"], strict=True))
    dream_steps = _column(job, "dream_steps").dropna()
    return {
        "model": job["model_label"].iloc[0],
        "left_out": left_out,
        # the classes whose models are shown, and how many the model has
        "class_names": class_models_shown(art),
        "classes_of": len(art.get("class_names", [])),
        # the model's first classes (not those of its data: a model with more classes)
        "classes_first": class_model_ids(art) == list(range(len(class_model_ids(art)))),
        "class_models": class_models_figure(art, probability),
        "neurons": neurons_figure(art),
        "neuron_layers": name_list([str(s) for s in art.get("neuron_layers", [])]),
        "inversion": inversion_figure(art),
        # how many of the inverted layers the figure shows (it spreads them when many)
        "inversions_made": len(art.get("inversions", [])),
        "inversions_shown": len(inversion_shown(len(art.get("inversions", [])))),
        "inversion_prefix": shared_prefix([str(s) for s in art.get("inversion_layers", [])]),
        "inversion_rows": _inversion_rows(job[job["method"] == INVERSION]),
        # how many feature layers the model has (runs stored before this was kept: as shown)
        "inversion_of": int(art["inversion_of"][0]) if "inversion_of" in art else None,
        "photos": photos_figure(art),
        "dream_layer": str(art["dream_layer"][0]) if "dream_layer" in art else None,
        "style_layers": name_list([str(s) for s in art.get("style_layers", [])]),
        "style": [{"optimizer": optimizer_title(o), **g.set_index("metric")["value"].to_dict()}
                  for o, g in style.groupby("optimizer", sort=False)]
        if "optimizer" in style else [],
        "losses": losses_figure(art, evaluations=evaluations, dream_steps=int(
            dream_steps.iloc[0]) if len(dream_steps) else None),
    }


def _inversion_rows(inversion: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per depth: the layer and each error metric."""
    index = [c for c in ("depth", "layer") if c in inversion]
    if inversion.empty or not index:
        return []
    return inversion.pivot_table(index=index, columns="metric", values="value",
                                 sort=False).reset_index().to_dict("records")
