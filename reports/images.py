"""Image figures: the adversarial-example grid and the fooling-image grid."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from reports.plotting import house_style, to_data_uri

GOOD, BAD = "#1a7f37", "#c62828"


def show_image(ax: plt.Axes, image: np.ndarray, **kwargs: object) -> None:
    """One ``(C, H, W)`` image, grey for one channel, RGB for three; no ticks."""
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap=kwargs.pop("cmap", "gray"), interpolation="nearest", **kwargs)
    else:
        ax.imshow(np.transpose(image, (1, 2, 0)), interpolation="nearest", **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _perturbation(delta: np.ndarray) -> np.ndarray:
    """Signed perturbation summed over channels ``(1, H, W)``: red adds, blue removes."""
    return delta.sum(axis=0, keepdims=True)


def examples_figure(art: dict[str, np.ndarray], *, eps: float, norm: str) -> str:
    """Columns are examples; rows are clean, adversarial, and the amplified perturbation.

    Under each image: the predicted class and its probability (green when it is the true
    class, red when not).
    """
    names = [str(c) for c in art["class_names"]]
    n = art["clean"].shape[0]
    delta = art["perturbation"]
    scale = float(np.abs(delta).max()) or 1.0  # amplify to the full colour range
    with house_style():
        fig, axes = plt.subplots(3, n, figsize=(1.3 * n + 1.0, 4.8), squeeze=False)
        for i in range(n):
            label = int(art["label"][i])
            cells = [
                (art["clean"][i], int(art["pred"][i]), float(art["confidence"][i])),
                (art["adversarial"][i], int(art["pred_adv"][i]), float(art["confidence_adv"][i])),
            ]
            for row, (image, pred, conf) in enumerate(cells):
                ax = axes[row, i]
                show_image(ax, image, vmin=0, vmax=1)
                ax.set_xlabel(f"{names[pred]}  {conf:.0%}", color=GOOD if pred == label else BAD,
                              fontsize=10, labelpad=3)
            ax = axes[2, i]
            show_image(ax, _perturbation(delta[i]), cmap="RdBu_r", vmin=-scale, vmax=scale)
            if norm == "linf":
                size, which = float(np.abs(delta[i]).max()), "∞"
            else:
                size, which = float(np.linalg.norm(delta[i])), "₂"
            ax.set_xlabel(f"‖δ‖{which} = {size:.2f}", fontsize=9, labelpad=3)
            axes[0, i].set_title(f"true {names[label]}", fontsize=10)
        for row, text in enumerate(("clean", "adversarial", f"δ, ×{1 / scale:.1f}")):
            axes[row, 0].set_ylabel(text, fontsize=10, labelpad=6)
        fig.tight_layout(h_pad=0.8, w_pad=0.4)
        return to_data_uri(fig)


def mosaic(images: np.ndarray, pad_x: int, pad_y: int) -> np.ndarray:
    """``(R, K, C, H, W)`` images -> one ``(R*(H+pad_y), K*(W+pad_x), C)`` canvas, white gaps.

    One ``imshow`` of a canvas is far faster to lay out than ``R * K`` axes.
    """
    rows, cols, channels, h, w = images.shape
    canvas = np.ones((rows * (h + pad_y), cols * (w + pad_x), channels), dtype=np.float32)
    for i in range(rows):
        for j in range(cols):
            top, left = i * (h + pad_y), j * (w + pad_x)
            canvas[top : top + h, left : left + w] = np.transpose(images[i, j], (1, 2, 0))
    return canvas


def fooling_figure(art: dict[str, np.ndarray]) -> str:
    """Rows are source images, columns target classes; under each cell the probability of
    the column's class (green when it is the model's prediction). The diagonal is clean.
    """
    names = [str(c) for c in art["class_names"]]
    classes = [int(c) for c in art["classes"]]
    images, prob, success = art["images"], art["target_prob"], art["success"]
    k = len(classes)
    h, w = images.shape[-2:]
    pad_x, pad_y = max(w // 7, 2), max(h // 3, 4)  # the caption goes under each image
    canvas = mosaic(images, pad_x, pad_y)
    width = (0.9 if k > 6 else 1.2) * k  # inches for the grid itself
    with house_style():
        fig, ax = plt.subplots(
            figsize=(width + 0.9, width * canvas.shape[0] / canvas.shape[1] + 0.8))
        if canvas.shape[-1] == 1:
            ax.imshow(canvas[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.imshow(canvas, interpolation="nearest")
        ax.grid(False)
        for i in range(k):
            for j in range(k):
                x, y = j * (w + pad_x) + w / 2, i * (h + pad_y) + h + pad_y * 0.5
                colour = "#555555" if i == j else (GOOD if success[i, j] else BAD)
                ax.text(x, y, f"{prob[i, j]:.2f}", ha="center", va="center", fontsize=9,
                        color=colour)
            ax.add_patch(plt.Rectangle((i * (w + pad_x) - 0.5, i * (h + pad_y) - 0.5), w, h,
                                       fill=False, edgecolor="#f0a202", linewidth=1.5))
        ax.set_xticks([j * (w + pad_x) + w / 2 for j in range(k)],
                      [f"→ {names[c]}" for c in classes])
        ax.set_yticks([i * (h + pad_y) + h / 2 for i in range(k)], [names[c] for c in classes])
        ax.xaxis.tick_top()
        ax.tick_params(length=0, labelsize=10)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel("target class (caption: the model's probability for it)", fontsize=9)
        ax.set_ylabel("source image, by true class", fontsize=9)
        fig.tight_layout()
        return to_data_uri(fig)
