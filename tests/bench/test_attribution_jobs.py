from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch import nn

import zoo
from attribution import get_method, list_methods
from attribution.occlusion import window_starts
from bench.kind import get_kind
from bench.kinds.attribution import job as attribution_job
from bench.kinds.attribution_calls import call_kwargs, plan_methods, resolve_methods
from bench.runner import run_suite
from bench.schema import allowed_keys, settings_keys
from bench.store import load, load_artifact, load_jobs
from bench.suite import Suite, SuiteError, parse_suite
from zoo.layers import cam_layer, last_conv
from zoo.params import SIDE, Relative

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


# --- occlusion's window as a fraction of the image's side ------------------------------------

ATTRIBUTION_KINDS = ("attribution", "agreement", "quality")


def task_configs(body: str, kind: str = "attribution") -> list[dict[str, object]]:
    text = f'name = "x"\n[[task]]\nkind = "{kind}"\nmodel = "mnist_cnn"\n{body}'
    return [job.params for job in suite(text).jobs]


def test_the_schema_derives_the_relative_window_keys() -> None:
    occlusion = get_method("occlusion")
    for name in ATTRIBUTION_KINDS:
        keys = settings_keys(get_kind(name))
        for key in ("window", "stride", "rel_window", "rel_stride"):
            assert keys[key] == [occlusion], (name, key)
            assert key in allowed_keys(get_kind(name))
    assert occlusion.suite_defaults == {"rel_window": 0.15, "rel_stride": 0.075}
    assert occlusion.params["window"].relative == Relative(SIDE, "rel_window", whole=True)
    assert occlusion.params["stride"].relative == Relative(SIDE, "rel_stride", whole=True)


@pytest.mark.parametrize("methods", ['"auto"', '["occlusion"]', '["saliency", "occlusion"]'])
def test_a_default_stays_out_when_the_task_gives_the_other_form(methods: str) -> None:
    occ = ("window", "stride", "rel_window", "rel_stride")

    def settings(body: str) -> dict[str, object]:
        (config,) = task_configs(f"methods = {methods}\n{body}")
        return {k: config[k] for k in occ if k in config}

    assert settings("") == {"rel_window": 0.15, "rel_stride": 0.075}
    assert settings("window = 6\n") == {"window": 6, "rel_stride": 0.075}
    assert settings("rel_stride = 0.1\n") == {"rel_window": 0.15, "rel_stride": 0.1}
    assert settings("window = 6\nstride = 3\n") == {"window": 6, "stride": 3}
    assert settings("rel_window = 0.5\n") == {"rel_window": 0.5, "rel_stride": 0.075}
    with pytest.raises(SuiteError, match="give stride or rel_stride for occlusion, not both"):
        settings("stride = 2\nrel_stride = 0.1\n")
    with pytest.raises(SuiteError, match="rel_window must be <= 1, got 1.5"):
        settings("rel_window = 1.5\n")


def side_model(side: int) -> zoo.Classifier:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                        nn.Flatten(), nn.Linear(64, 3))
    return zoo.Classifier(net, mean=(0.5,) * 3, std=(0.25,) * 3, num_classes=3,
                          input_shape=(3, side, side), name=f"side{side}").eval()


@pytest.mark.parametrize(("model", "window", "stride", "per_side"), [
    ("mnist_cnn", 4, 2, 13), ("shapes_cnn", 4, 2, 15),  # the shipped models: as before
    (64, 9, 4, 15), (224, 33, 16, 13),
])
def test_a_jobs_call_resolves_the_window_at_the_models_side(
        model: str | int, window: int, stride: int, per_side: int) -> None:
    net = zoo.load_model(model) if isinstance(model, str) else side_model(model)
    side = net.input_shape[-1]
    (config,) = task_configs('methods = ["occlusion"]\n')
    plan = plan_methods(["occlusion"], net, config)
    assert plan.side == side
    kwargs = call_kwargs("occlusion", plan, config, ctx=None, seed=0)  # type: ignore[arg-type]
    assert kwargs == {"window": window, "stride": stride}
    assert len(window_starts(side, window, stride)) == per_side


FACTORY = '''
import torch


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(), torch.nn.Linear(64, 3))
'''


def test_an_attribution_job_on_a_64_px_model_scales_the_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nets.py").write_text(FACTORY)
    rng = np.random.default_rng(0)
    for name in ("ant", "bee", "cat"):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pics" / name / f"{i}.png")
    calls: list[dict[str, object]] = []

    def spy(name: str, *args: object, **kwargs: object) -> dict[str, object]:
        out = call_kwargs(name, *args, **kwargs)  # type: ignore[arg-type]
        calls.append({"method": name, **out})
        return out

    monkeypatch.setattr(attribution_job, "call_kwargs", spy)
    definition = {"name": "big", "seed": 0,
                  "models": {"big": {"source": "nets.py:net", "input_size": 64,
                                     "data": "pics"}},
                  "data": {"pics": {"root": "pics"}},
                  "task": [{"kind": "attribution", "model": "big", "n": 1,
                            "methods": ["occlusion"]}]}
    run = parse_suite(definition, path=tmp_path / "big.toml")
    (job,) = run.jobs
    assert job.params["rel_window"] == 0.15 and job.params["rel_stride"] == 0.075
    summary = run_suite(run, tmp_path / "run", device="cpu", progress=False)
    assert not summary.failed, load_jobs(tmp_path / "run")[["label", "error"]].to_string()
    # the job stored the relative settings and called occlusion with them at 64 px
    (stored,) = load_jobs(tmp_path / "run")["job_id"]
    assert stored == job.id
    assert calls == [{"method": "occlusion", "window": 9, "stride": 4}]
    rows = load(tmp_path / "run")
    assert set(rows["rel_window"]) == {0.15} and set(rows["rel_stride"]) == {0.075}
    art = load_artifact(tmp_path / "run", job.id, "maps")
    assert art["map_occlusion"].shape == (1, 3, 64, 64)
