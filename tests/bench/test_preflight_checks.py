"""Values that only a loaded model can judge (a layer's name, class indices, a window in
pixels, a weights file, a labels CSV's values) stop the run before its first job, with one
line naming the job, the key and what the model has, and nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from bench.context import RunContext
from bench.preflight import PreflightError, preflight
from bench.runner import run_suite
from bench.suite import parse_suite
from zoo.errors import UserError

SMALL = '''import torch


def make():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 26 * 26, 10))
'''


def suite_of(tmp_path: Path, *tasks: dict[str, Any], **tables: Any) -> Any:
    return parse_suite({"name": "bad", "task": list(tasks), **tables},
                       path=tmp_path / "bad.toml")


def refused(tmp_path: Path, suite: Any, out: Path | None = None) -> str:
    """The one-line message of the run's refusal; no job ran and nothing was written."""
    out = out or tmp_path / "run"
    before = sorted((p.name, p.read_bytes()) for p in out.rglob("*") if p.is_file())
    with pytest.raises(PreflightError) as info:
        run_suite(suite, out, device="cpu", progress=False)
    assert isinstance(info.value, UserError) and "\n" not in str(info.value)
    after = sorted((p.name, p.read_bytes()) for p in out.rglob("*") if p.is_file())
    assert after == before  # absent stays absent, an earlier run's files stay as they were
    return str(info.value)


GRAD_CAM = {"kind": "attribution", "model": "mnist_cnn", "methods": ["grad_cam"], "n": 1}


def test_a_layer_not_in_the_model_is_named_with_the_closest_and_the_layers(
        tmp_path: Path) -> None:
    message = refused(tmp_path, suite_of(tmp_path, {**GRAD_CAM, "layer": "net.99"}))
    assert message.startswith("job attribution mnist_cnn: layer 'net.99' is not a layer of "
                              "mnist_cnn (did you mean 'net.9'?); layers: normalize, net, net.0")


def test_a_layer_without_a_map_is_refused_by_one_probe(tmp_path: Path) -> None:
    # net.9 is the last Linear layer: Grad-CAM has no spatial map to read there
    message = refused(tmp_path, suite_of(tmp_path, {**GRAD_CAM, "layer": "net.9"}))
    assert "grad_cam cannot read the output of layer 'net.9', shaped (1, 10)" in message


def test_the_same_checks_for_agreement_and_quality_and_an_earlier_run_is_untouched(
        tmp_path: Path) -> None:
    out = tmp_path / "run"
    toy = suite_of(tmp_path, {"kind": "toy"})
    assert not run_suite(toy, out, device="cpu", progress=False).failed
    for kind in ("agreement", "quality"):
        bad = suite_of(tmp_path, {"kind": "toy"}, {**GRAD_CAM, "kind": kind, "layer": "net.99"})
        assert f"job {kind} mnist_cnn: layer 'net.99'" in refused(tmp_path, bad, out)


def test_fooling_classes_beyond_the_model_outputs(tmp_path: Path) -> None:
    task = {"kind": "fooling", "model": "mnist_cnn", "classes": [0, 12], "eps": 0.1,
            "steps": 1, "rel_alpha": 0.5, "n": 8}
    message = refused(tmp_path, suite_of(tmp_path, task))
    assert "classes holds 12, but mnist_cnn has 10 classes (0 to 9)" in message


def test_an_occlusion_window_larger_than_the_images(tmp_path: Path) -> None:
    task = {**GRAD_CAM, "methods": ["occlusion"], "window": 40}
    message = refused(tmp_path, suite_of(tmp_path, task))
    assert "occlusion on mnist_cnn's 28 x 28 px images" in message and "(40, 40)" in message


def test_a_torchvision_model_without_its_weights_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    task = {"kind": "attribution", "model": "tv:resnet18", "methods": ["saliency"], "n": 1}
    message = refused(tmp_path, suite_of(tmp_path, task))
    assert message.startswith("model 'tv:resnet18' (job attribution tv:resnet18): no ImageNet "
                              "weights for tv:resnet18")
    assert str(tmp_path / "torch") in message and "weights='random'" in message
    # a stress test measures cost and numerical health: it still runs on random weights
    stress = suite_of(tmp_path, {"kind": "stress", "model": "tv:resnet18",
                                 "method": "class_model", "sizes": [32], "n": 1})
    audited = preflight(stress, RunContext(torch.device("cpu"), seed=stress.seed))
    assert audited["models"]["tv:resnet18"]["random_weights"]


@pytest.mark.parametrize(("rows", "message"), [
    ("a.png,1\nb.png,-1\n", "labels.csv, line 3: label '-1' is not a class index"),
    ("a.png,1\nb.png,cat\n", "mixes class indices (line 2: '1') and class names (line 3"),
])
def test_a_labels_csv_with_a_stray_value(tmp_path: Path, rows: str, message: str) -> None:
    (tmp_path / "small.py").write_text(SMALL)
    folder = tmp_path / "flat"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("L", (28, 28), 128).save(folder / name)
    (folder / "labels.csv").write_text("file,label\n" + rows)
    tables = {"models": {"net": {"source": "small.py:make", "input_size": [1, 28, 28],
                                 "data": "images"}},
              "data": {"images": {"root": "flat", "labels_csv": "flat/labels.csv"}}}
    task = {"kind": "robustness", "model": "net", "attack": "fgsm", "eps": [0.1], "n": 2}
    text = refused(tmp_path, suite_of(tmp_path, task, **tables))
    assert text.startswith("[models.net]: labels CSV") and message in text


def test_stress_sizes_the_model_runs_at_none_of(tmp_path: Path) -> None:
    # mnist_cnn's fully connected head takes 28 px images only
    task = {"kind": "stress", "model": "mnist_cnn", "method": "class_model", "sizes": [16, 40],
            "n": 1}
    message = refused(tmp_path, suite_of(tmp_path, task))
    assert ("sizes [16, 40]: mnist_cnn runs at none of them (it takes 28 x 28 px images); "
            "give sizes = [28]") in message
