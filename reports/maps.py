"""Attribution figures: every method's map beside the image it explains, and the Captum
agreement table's rows.

Maps arrive as raw scores; the display scaling lives here. Each map is shown as the
channel-max of its absolute value (the lecture's saliency map), except Grad-CAM, whose
positive part is shown (Selvaraju et al. apply a ReLU: negative evidence is not highlighted).
Each panel is scaled to its own 99th percentile so one hot pixel does not wash out the rest.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reports.images import BAD, GOOD, show_image
from reports.plotting import house_style, to_data_uri

# in the lecture's order, which the tables follow too
TITLES = {
    "saliency": "saliency", "guided_backprop": "guided\nbackprop", "deconvnet": "deconvnet",
    "smoothgrad": "SmoothGrad", "integrated_gradients": "integrated\ngradients",
    "occlusion": "occlusion", "grad_cam": "Grad-CAM",
}


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
            axes[i, 0].set_ylabel(f"{names[pred]} {float(art['confidence'][i]):.0%}",
                                  color=GOOD if pred == label else BAD, fontsize=9)
            for j, method in enumerate(methods, start=1):
                show_image(axes[i, j], display_map(method, art[f"map_{method}"][i])[None],
                      cmap="inferno", vmin=0, vmax=1)
        for j, method in enumerate(["image", *methods]):
            axes[0, j].set_title(TITLES.get(method, method), fontsize=9)
        fig.subplots_adjust(wspace=0.05, hspace=0.08)
        return to_data_uri(fig)


def agreement_rows(agreement: pd.DataFrame) -> list[dict[str, object]]:
    """One row per model and method: the differences to Captum and both timings."""
    table = agreement.pivot_table(index=["model_label", "method"], columns="metric",
                                  values="value", sort=False)
    models = list(dict.fromkeys(agreement["model_label"]))
    order = list(TITLES)
    table = table.sort_index(key=lambda level: level.map(
        models.index if level.name == "model_label" else
        (lambda m: order.index(m) if m in order else len(order))))
    return [
        {"model": model, "method": TITLES.get(method, method).replace("\n", " "),
         **row.to_dict()}
        for (model, method), row in table.iterrows()
    ]
