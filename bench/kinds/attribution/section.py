"""The attribution section: per job, every method's map beside the image it explains.

Maps arrive as raw scores; the display scaling lives here. Each map is shown as the
channel-max of its absolute value (the lecture's saliency map), except Grad-CAM, whose
positive part is shown (Selvaraju et al. apply a ReLU: negative evidence is not highlighted).
Each panel is scaled to its own 99th percentile so one hot pixel does not wash out the rest.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.figures import BAD, GOOD, house_style, shorten, show_image, to_data_uri
from bench.kind import ArtifactLoader
from bench.kinds.attribution.job import MAPS, SECONDS_PER_IMAGE
from bench.kinds.attribution_calls import LEFT_OUT, MAP_LAYER, lecture_rank

# column heads of the maps figure; the tables use them on one line (``method_title``)
TITLES = {
    "saliency": "saliency", "guided_backprop": "guided\nbackprop", "deconvnet": "deconvnet",
    "smoothgrad": "SmoothGrad", "integrated_gradients": "integrated\ngradients",
    "occlusion": "occlusion", "grad_cam": "Grad-CAM",
}


def method_title(name: str) -> str:
    """A method's name as the tables show it."""
    return TITLES.get(name, name).replace("\n", " ")


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """Per job: its model, the maps figure, each method's seconds per image, the layer each
    layer method read and the methods left out with the reasons."""
    out = []
    for job_id, job in rows.groupby("job_id", sort=False):
        seconds = job[job["metric"] == SECONDS_PER_IMAGE].set_index("method")["value"]
        out.append({
            "model": job["model_label"].iloc[0],
            "figure": maps_figure(artifact(job_id, MAPS)),
            "seconds": {method_title(m): t for m, t in seconds.items()},
            "layers": map_layers(job),
            "left_out": left_out(job),
        })
    return out


def map_layers(rows: pd.DataFrame) -> dict[str, str]:
    """Method title -> the layer its map was read from (Grad-CAM's), for rows that name one
    (runs stored before the layer was recorded name none)."""
    if MAP_LAYER not in rows:
        return {}
    named = rows.dropna(subset=[MAP_LAYER])
    return {method_title(str(m)): str(layer)
            for m, layer in zip(named["method"], named[MAP_LAYER], strict=True)}


def left_out(rows: pd.DataFrame) -> list[dict[str, str]]:
    """The methods a job left out, each with its reason, in the lecture's order."""
    out = rows[rows["metric"] == LEFT_OUT]
    reasons = {str(r["method"]): reason_of(r) for _, r in out.iterrows()}
    return [{"method": method_title(m), "reason": reasons[m]}
            for m in sorted(reasons, key=lecture_rank)]


def reason_of(row: pd.Series) -> str:
    """A row's ``reason`` (why a method was left out), ``""`` where it has none."""
    reason = row.get("reason")
    return reason if isinstance(reason, str) else ""


def display_map(method: str, raw: np.ndarray) -> np.ndarray:
    """One raw map ``(C, H, W)`` -> ``(H, W)`` in ``[0, 1]`` for display."""
    heat = np.maximum(raw, 0).max(axis=0) if method == "grad_cam" else np.abs(raw).max(axis=0)
    top = float(np.percentile(heat, 99))
    return np.clip(heat / top, 0, 1) if top > 0 else np.zeros_like(heat)


def maps_figure(art: dict[str, np.ndarray]) -> str:
    """Rows are images; the first column the image, then one column per method."""
    methods = [str(m) for m in art["methods"]]
    names = [str(c) for c in art["class_names"]]
    images = art["images"]
    n, cols = images.shape[0], len(methods) + 1
    with house_style():
        fig, axes = plt.subplots(n, cols, figsize=(1.25 * cols, 1.35 * n + 0.4), squeeze=False)
        for i in range(n):
            label, pred = int(art["label"][i]), int(art["pred"][i])
            show_image(axes[i, 0], images[i], vmin=0, vmax=1)
            axes[i, 0].set_ylabel(f"{shorten(names[pred], 16, middle=False)} "
                                  f"{float(art['confidence'][i]):.0%}",
                                  color=GOOD if pred == label else BAD, fontsize=9)
            for j, method in enumerate(methods, start=1):
                show_image(axes[i, j], display_map(method, art[f"map_{method}"][i])[None],
                           cmap="inferno", vmin=0, vmax=1)
        for j, method in enumerate(["image", *methods]):
            axes[0, j].set_title(TITLES.get(method, method), fontsize=9)
        fig.subplots_adjust(wspace=0.05, hspace=0.08)
        return to_data_uri(fig)
