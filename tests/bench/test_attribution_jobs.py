from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import zoo
from attribution import list_methods
from bench.kinds.attribution_calls import plan_methods, resolve_methods
from bench.runner import run_suite
from bench.store import load, load_artifact, load_jobs
from bench.suite import Suite, SuiteError, parse_suite
from zoo.layers import cam_layer, last_conv

SUITE = """
name = "attr"
[[task]]
kind = "attribution"
model = ["mnist_cnn", "mnist_logreg"]
n = 2
[[task]]
kind = "agreement"
model = "shapes_cnn"
n = 3
"""


def suite(text: str) -> Suite:
    import tomllib

    return parse_suite(tomllib.loads(text), path=Path("attr.toml"), source=text)


def test_auto_methods_are_those_that_apply() -> None:
    assert resolve_methods("auto", zoo.load_model("mnist_cnn")) == [
        "saliency", "guided_backprop", "deconvnet", "smoothgrad", "integrated_gradients",
        "occlusion", "grad_cam"]
    assert set(resolve_methods("auto", zoo.load_model("mnist_cnn"))) == set(list_methods())
    # softmax regression: no ReLU to override, no convolution for Grad-CAM
    assert resolve_methods("auto", zoo.load_model("mnist_logreg")) == [
        "saliency", "smoothgrad", "integrated_gradients", "occlusion"]
    assert resolve_methods(["occlusion"], zoo.load_model("mnist_logreg")) == ["occlusion"]


def test_grad_cam_layer_defaults_to_the_last_conv_activation() -> None:
    # the last spatial map, read where it was made: the ReLU, not the max-pool after it
    assert cam_layer(zoo.load_model("mnist_cnn")) == last_conv(zoo.load_model("mnist_cnn"))
    assert cam_layer(zoo.load_model("mnist_cnn")) == "net.4"
    assert cam_layer(zoo.load_model("shapes_cnn")) == "net.9"
    with pytest.raises(ValueError, match="no"):
        last_conv(zoo.load_model("mnist_logreg"))
    with pytest.raises(ValueError, match="no layer of the model outputs a spatial map"):
        cam_layer(zoo.load_model("mnist_logreg"))
    plan = plan_methods("auto", zoo.load_model("mnist_logreg"))
    assert set(plan.left_out) == {"guided_backprop", "deconvnet", "grad_cam"}
    assert "no nn.ReLU module" in plan.left_out["guided_backprop"]
    assert plan.left_out["grad_cam"].startswith("no default layer: no layer of the model")


def test_unknown_method_or_bad_value_is_refused_at_load() -> None:
    with pytest.raises(SuiteError, match="lrp"):
        suite('name = "x"\n[[task]]\nkind = "attribution"\nmodel = "mnist_cnn"\n'
              'methods = ["saliency", "lrp"]')
    with pytest.raises(SuiteError, match="window"):
        suite('name = "x"\n[[task]]\nkind = "agreement"\nmodel = "mnist_cnn"\nwindow = 0')


def test_attribution_and_agreement_jobs_end_to_end(tmp_path: Path) -> None:
    summary = run_suite(suite(SUITE), tmp_path, device="cpu", progress=False)
    assert not summary.failed and len(summary.done) == 3
    df = load(tmp_path)
    agree = df[df["kind"] == "agreement"].pivot_table(
        index="method", columns="metric", values="value")
    assert set(agree.index) == set(list_methods())
    # the methods are defined as Captum's; float32 rounding is all that may differ
    assert (agree["relative_error"] <= 1e-5).all(), agree["relative_error"]
    assert (agree["spearman"] >= 0.999).all(), agree["spearman"]
    assert (agree["seconds_ours"] > 0).all() and (agree["seconds_captum"] > 0).all()

    jobs = load_jobs(tmp_path).set_index("label")
    art = load_artifact(tmp_path, jobs.loc["attribution mnist_logreg", "job_id"], "maps")
    assert list(art["methods"]) == resolve_methods("auto", zoo.load_model("mnist_logreg"))
    for method in art["methods"]:
        assert art[f"map_{method}"].shape == art["images"].shape == (2, 1, 28, 28)
        assert np.isfinite(art[f"map_{method}"]).all() and np.abs(art[f"map_{method}"]).max() > 0
    art = load_artifact(tmp_path, jobs.loc["attribution mnist_cnn", "job_id"], "maps")
    assert art["map_grad_cam"].shape == (2, 1, 28, 28)  # upsampled from the 14x14 layer


QUALITY = """
name = "quality"
[[task]]
kind = "quality"
model = "shapes_cnn"
methods = ["saliency", "grad_cam"]
n = 8
curve_steps = 10
"""


def test_quality_job_scores_maps_against_masks(tmp_path: Path) -> None:
    summary = run_suite(suite(QUALITY), tmp_path, device="cpu", progress=False)
    assert not summary.failed
    df = load(tmp_path)
    scores = df[df["stage"].isna()].pivot_table(index="method", columns="metric",
                                                 values="value")
    for method in ("saliency", "grad_cam"):
        row = scores.loc[method]
        # on a 98%-accurate model, the map's top pixels carry the class both ways round
        assert row["insertion_auc"] > row["deletion_auc"]
        # and the maps find the object better than spreading mass evenly would
        assert row["mass_inside_mask"] > scores.loc["uniform baseline", "mass_inside_mask"]
        assert 0 <= row["pointing_game"] <= 1 and 0 <= row["segmentation_iou"] <= 1
        assert row["randomisation_passed"] in (0.0, 1.0) and row["fragility_kept"] <= 8
    stages = df[df["metric"] == "randomisation_spearman_abs"]
    assert sorted(stages.loc[stages["method"] == "saliency", "layer"]) == sorted(
        ["net.0", "net.2", "net.5", "net.8", "net.12"])  # every layer with parameters


def test_representation_job_stores_every_view(tmp_path: Path) -> None:
    text = 'name = "rep"\n[[task]]\nkind = "representation"\nmodel = "mnist_cnn"\nn = 120\n'
    summary = run_suite(suite(text), tmp_path, device="cpu", progress=False)
    assert not summary.failed
    rows = load(tmp_path).set_index("metric")["value"]
    # features group the classes far better than raw pixels (the lecture's point)
    assert rows["neighbour_label_agreement_features"] > rows["neighbour_label_agreement_pixels"]
    assert rows["receptive_field"] == 14  # conv5 -> pool2 -> conv5 at net.4
    art = load_artifact(tmp_path, load_jobs(tmp_path)["job_id"].iloc[0], "views")
    assert art["embedding"].shape == (120, 2) and art["patches"].shape[:2] == (6, 6)
    assert art["feature_neighbours"].shape == (4, 5, 1, 28, 28)
    assert art["occlusion"].shape == (3, 11, 11) and (art["occlusion"] <= 1).all()
    assert art["occluded_activations"].shape == (32, 11, 11)  # net.1 has 32 channels
    assert list(art["layers"]) == ["net.1", "net.4"]
    assert art["filters"].shape == (32, 1, 5, 5)  # raw weights: the section scales them
