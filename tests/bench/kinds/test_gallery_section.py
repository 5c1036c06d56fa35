"""The gallery and stress sections, from a small synthetic store: every part drawn, a
grey model without dream or style, a stress run that blew up at step 3 shown as such."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.spec import Job, JobOutput
from tests.runs import write_synthetic_run

VARIANTS = ("none", "l2_decay", "blur", "norm_clip", "contribution_clip", "jitter", "all")
CLASSES = ("<i>zero</i>", "one", "two", "three")
LAYERS = ("conv1", "conv2", "fc1")
STEPS = 20


def _image(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.random(shape).astype(np.float32)


def _decay(rng: np.random.Generator, n: int = STEPS + 1) -> np.ndarray:
    return np.exp(-np.linspace(0, 3, n)) + 0.01 * rng.random(n)


def gallery(label: str, channels: int, side: int, *, photos: bool) -> JobOutput:
    rng = np.random.default_rng(0)
    k, v, d = len(CLASSES), len(VARIANTS), len(LAYERS)
    art: dict[str, np.ndarray] = {
        "class_names": np.array(CLASSES, dtype=str),
        "class_models": _image(rng, v, k, channels, side, side) * 0.2,  # stretched on the page
        "class_variants": np.array(VARIANTS, dtype=str),
        "class_losses": np.stack([-_decay(rng) for _ in VARIANTS]),
        "neurons": _image(rng, 2, 6, channels, side, side),
        "neuron_layers": np.array(["conv1", "fc1"], dtype=str),
        "neuron_0_losses": -_decay(rng), "neuron_1_losses": -_decay(rng),
        "inversion_original": _image(rng, channels, side, side),
        "inversions": _image(rng, d, channels, side, side),
        "inversion_layers": np.array(LAYERS, dtype=str),
        "inversion_losses": np.stack([_decay(rng) for _ in LAYERS]),
    }
    rows: list[dict[str, Any]] = []
    base = {"model_label": label}
    for i, variant in enumerate(VARIANTS):
        rows += [{**base, "method": "class_model", "variant": variant, "metric": m, "value": x}
                 for m, x in (("target_probability", 0.1 * i), ("target_probability_min", 0.0),
                              ("finite", 1.0), ("improved", 1.0))]
    rows += [{**base, "method": "neuron_visualisation", "layer": layer, "metric": "improved",
              "value": 1.0} for layer in ("conv1", "fc1")]
    for depth, layer in enumerate(LAYERS):
        rows += [{**base, "method": "feature_inversion", "layer": layer, "depth": depth,
                  "metric": m, "value": x} for m, x in (("feature_error", 0.01 * (depth + 1)),
                                                         ("pixel_error", 0.1 * (depth + 1)))]
    if photos:
        art.update(dream_source=_image(rng, 3, 48, 48), dream=_image(rng, 3, 48, 48),
                   dream_layer=np.array(["conv2"], dtype=str),
                   dream_losses=np.concatenate([-_decay(rng, 11) for _ in range(3)]))
        for part in ("content", "style", "lbfgs", "adam"):
            art[f"style_{part}"] = _image(rng, 3, 48, 48)
        art["style_layers"] = np.array(["conv1", "conv2"], dtype=str)
        rows.append({**base, "method": "deep_dream", "layer": "conv2", "metric": "finite",
                     "value": 1.0})
        for opt, evaluations in (("lbfgs", 60.0), ("adam", 20.0)):
            art[f"style_{opt}_losses"] = _decay(rng) * 100
            for term in ("content", "style", "tv"):
                art[f"style_{opt}_{term}"] = _decay(rng) * 30
            rows += [{**base, "method": "style_transfer", "optimizer": opt, "metric": m,
                      "value": x} for m, x in (("final_loss", 1.5), ("improved", 1.0),
                                               ("evaluations", evaluations))]
    return JobOutput(rows, {"gallery": art})


def stress(label: str, method: str, depth: int, *, fail_at: int | None = None) -> JobOutput:
    rows: list[dict[str, Any]] = []
    base = {"model_label": label, "method": method, "parameters": 1000 * depth, "depth": depth}
    labels, traces = [], []
    for size in (16, 32, 64):
        steps = 5
        setting = {**base, "size": size, "steps": steps}
        broke = fail_at is not None and size == 64
        for repeat in range(2):
            seconds = 0.001 * size * depth * (1 + 0.1 * repeat)
            values = {"seconds": seconds * steps, "seconds_per_step": seconds,
                      "evaluations_per_step": 1.0, "peak_memory_mb": 0.01 * size ** 2,
                      "finite": 0.0 if broke else 1.0, "improved": 0.0 if broke else 1.0,
                      "initial_loss": 1.0, "final_loss": float("nan") if broke else 0.5}
            if broke:
                values["failed_step"] = float(fail_at)  # type: ignore[arg-type]
            rows += [{**setting, "repeat": repeat, "memory_source": "rss_sampled", "metric": k,
                      "value": x} for k, x in values.items()]
        rows.append({**setting, "metric": "deterministic", "value": 1.0})
        labels.append(f"{size}px, {steps} steps")
        traces.append(np.linspace(1, 0.5, steps + 1))
    art = {"losses": np.stack(traces), "labels": np.array(labels, dtype=str),
           "model_label": np.array([label], dtype=str)}
    return JobOutput(rows, {"stress": art})


def images(html: str, section: str) -> int:
    part = html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
    return len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"', part))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    run = tmp_path_factory.mktemp("gallery") / "run"
    outputs = [
        (Job("gallery", {"model": "cifar_cnn", "dream_steps": 10}),
         gallery("cifar_cnn", 3, 16, photos=True)),
        (Job("gallery", {"model": "mnist_cnn"}), gallery("mnist_cnn", 1, 12, photos=False)),
        (Job("stress", {"model": "mnist_cnn", "method": "class_model"}),
         stress("mnist_cnn", "class_model", 3)),
        (Job("stress", {"model": "mnist_cnn", "method": "deep_dream"}),
         stress("mnist_cnn", "deep_dream", 3, fail_at=3)),
        (Job("stress", {"model": "cifar_cnn", "method": "class_model"}),
         stress("cifar_cnn (random weights)", "class_model", 6)),
    ]
    return write_synthetic_run(run, outputs).read_text(encoding="utf-8")


def test_gallery_shows_every_part_and_skips_photos_for_grey_models(page: str) -> None:
    # colour model: classes, channels, inversion, dream+style, losses; grey: no photos
    assert images(page, "gallery") == 5 + 4
    section = page.split('<section id="gallery">', 1)[1].split("</section>", 1)[0]
    for text in ("Images made by optimisation", "cifar_cnn", "mnist_cnn", "one, two, three",
                 "contrast-stretched to its own range", "DeepDream at conv2", "L-BFGS",
                 "feature error", "No dream or style transfer for mnist_cnn"):
        assert text in section, text
    assert "&lt;i&gt;zero&lt;/i&gt;" in section and "<i>zero" not in section
    assert section.count("<td class=\"l\">conv2</td>") == 2  # one inversion table per model


def test_stress_failure_is_shown_with_its_step(page: str) -> None:
    assert images(page, "stress") == 1
    section = page.split('<section id="stress">', 1)[1].split("</section>", 1)[0]
    assert "Generative methods under stress" in section
    assert "1 setting(s) blew up" in section
    assert "deep_dream at 64 px, 5 steps (step 3)" in section
    assert section.count('class="failed"') == 1
    assert "✗ blew up at step 3" in section
    assert "cifar_cnn (random weights)" in section
    assert "resident set sampled every 2 ms" in section
    # 3 jobs x 3 sizes, one row each
    assert section.count("<tr") == 1 + 9


def test_sections_fall_back_when_the_suite_has_neither_kind(tmp_path: Path) -> None:
    html = write_synthetic_run(tmp_path / "run", [
        (Job("gallery", {"model": "mnist_cnn", "parts": "neurons"}),
         JobOutput([{"model_label": "mnist_cnn", "method": "neuron_visualisation",
                     "layer": "conv1", "metric": "improved", "value": 1.0}],
                   {"gallery": {"neurons": np.zeros((1, 2, 1, 8, 8), dtype=np.float32),
                                "neuron_layers": np.array(["conv1"])}}))]).read_text()
    assert images(html, "gallery") == 1
    assert "This suite has no stress job." in html
