from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from bench.context import RunContext
from bench.kinds.generative_calls import aim
from bench.kinds.stress.job import _run_rows
from bench.memory import PeakMemory
from bench.runner import run_suite
from bench.store import load, load_artifact, load_jobs
from bench.suite import Suite, SuiteError, parse_suite
from generative import GenResult
from zoo.layers import accepts_size, middle_layer, style_layers

SUITE = """
name = "gen"
[[task]]
kind = "stress"
model = "shapes_cnn"
method = ["class_model", "deep_dream", "style_transfer"]
sizes = [32, 48]
steps_grid = [3]
[[task]]
kind = "gallery"
model = "shapes_cnn"
classes_shown = 2
steps = 4
inversion_steps = 4
dream_steps = 2
style_steps = 3
photo_size = 40
"""


def suite(text: str) -> Suite:
    return parse_suite(tomllib.loads(text), path=Path("gen.toml"), source=text)


def test_suite_checks_generative_keys_before_running() -> None:
    jobs = suite(SUITE).jobs
    assert [j.kind for j in jobs] == ["stress"] * 3 + ["gallery"]
    assert jobs[0].params["sizes"] == [32, 48] and jobs[0].label == "stress shapes_cnn class_model"
    base = 'name = "x"\n[[task]]\nkind = "stress"\nmodel = "shapes_cnn"\n'
    with pytest.raises(SuiteError, match="unknown generative method 'dreamz'"):
        suite(base + 'method = "dreamz"\nsizes = [32]')
    with pytest.raises(SuiteError, match="sizes"):
        suite(base + 'method = "deep_dream"\nsizes = [0]')
    with pytest.raises(SuiteError, match="missing required key 'sizes'"):
        suite(base + 'method = "deep_dream"')
    with pytest.raises(SuiteError, match="parts"):
        suite('name = "x"\n[[task]]\nkind = "gallery"\nmodel = "shapes_cnn"\nparts = ["x"]')


def test_layer_choices_and_size_probe() -> None:
    shapes, mnist = zoo.load_model("shapes_cnn").eval(), zoo.load_model("mnist_cnn").eval()
    assert style_layers(shapes) == ("net.6", ["net.1", "net.3", "net.6"])
    assert style_layers(mnist) == ("net.4", ["net.1", "net.4"])
    assert accepts_size(shapes, 3, 20) and accepts_size(mnist, 1, 28)
    assert not accepts_size(mnist, 1, 20)  # its fully connected head wants 28 x 28


def test_aim_gives_each_input_kind_its_arguments() -> None:
    shapes, mnist = zoo.load_model("shapes_cnn").eval(), zoo.load_model("mnist_cnn").eval()
    photos = torch.rand(2, 3, 32, 32)
    args, kwargs = aim("class_model", shapes, photos, steps=3)
    assert args == [[0]] and kwargs == {"steps": 3, "shape": (3, 32, 32)}
    args, _ = aim("neuron_visualisation", shapes, photos)
    assert args == [middle_layer(shapes), [0]]
    args, kwargs = aim("deep_dream", shapes, photos, layer="net.1")
    assert args[0].shape == (1, 3, 32, 32) and args[1] == "net.1" and kwargs == {"octaves": 3}
    # mnist_cnn's fully connected head runs at 28 px only: one octave
    _, kwargs = aim("deep_dream", mnist, torch.rand(2, 1, 28, 28))
    assert kwargs == {"octaves": 1}
    args, kwargs = aim("style_transfer", shapes, photos)
    assert [a.shape[0] for a in args] == [1, 1]
    assert (kwargs["content_layer"], kwargs["style_layers"]) == style_layers(shapes)


def test_missing_torchvision_weights_fall_back_to_labelled_random(monkeypatch) -> None:
    ctx = RunContext(torch.device("cpu"))
    real = RunContext.model

    def no_file(self: RunContext, name: str, weights: str | None = None) -> zoo.Classifier:
        if weights is None:
            raise FileNotFoundError(f"no weights for {name}")
        return real(self, name, weights)

    monkeypatch.setattr(RunContext, "model", no_file)
    model = ctx.model_or_random("tv:resnet18")
    assert model.random_weights and model.label == "tv:resnet18 (random weights)"
    assert ctx.missing_weights == {"tv:resnet18"}
    assert ctx.model_or_random("tv:resnet18") is model  # no second attempt
    with pytest.raises(FileNotFoundError):  # only torchvision models fall back
        ctx.model_or_random("shapes_cnn")


def test_a_run_that_blew_up_is_reported_with_its_step() -> None:
    losses = torch.tensor([3.0, 2.0, float("nan"), float("nan")], dtype=torch.float64)
    result = GenResult(torch.full((1, 1, 4, 4), float("nan")), losses, {"method": "x"})
    rows = {r["metric"]: r for r in _run_rows({"size": 4}, result, 2.0, 3,
                                              PeakMemory("rss_sampled", 10, 2**20))}
    assert rows["finite"]["value"] == 0.0 and rows["failed_step"]["value"] == 2.0
    assert rows["improved"]["value"] == 0.0
    assert rows["seconds_per_step"]["value"] == pytest.approx(2 / 3)
    assert rows["peak_memory_mb"]["value"] == 1.0


def test_stress_and_gallery_jobs_end_to_end(tmp_path: Path) -> None:
    summary = run_suite(suite(SUITE), tmp_path, device="cpu", progress=False)
    assert not summary.failed, summary.failed
    df = load(tmp_path)
    stress = df[df["kind"] == "stress"]
    per_run = stress[stress["metric"] == "seconds_per_step"]
    assert len(per_run) == 3 * 2 * 2  # methods x sizes x repeats
    assert (per_run["value"] > 0).all()
    for metric in ("finite", "deterministic"):
        assert (stress[stress["metric"] == metric]["value"] == 1.0).all(), metric
    dream = stress[(stress["method"] == "deep_dream") & (stress["metric"] == "improved")]
    assert len(dream) == 4
    evals = stress[(stress["method"] == "style_transfer")
                   & (stress["metric"] == "evaluations_per_step")]
    assert (evals["value"] >= 1).all()  # L-BFGS line search: at least one pass per step
    jobs = load_jobs(tmp_path).set_index("kind")
    art = load_artifact(tmp_path, jobs.loc["gallery", "job_id"], "gallery")
    assert art["class_models"].shape == (7, 2, 3, 32, 32)
    assert list(art["class_variants"])[0] == "none" and list(art["class_variants"])[-1] == "all"
    assert art["inversions"].shape[0] == len(zoo.feature_layers(zoo.load_model("shapes_cnn")))
    assert art["dream"].shape == (3, 40, 40) and art["style_lbfgs"].shape == (3, 40, 40)
    assert np.isfinite(art["style_adam_losses"]).all()
    gallery = df[df["kind"] == "gallery"]
    pixel = gallery[gallery["metric"] == "pixel_error"].sort_values("depth")["value"]
    assert len(pixel) == 4 and (pixel >= 0).all()


def test_inversion_layers_are_spread_over_a_deep_network() -> None:
    from bench.kinds.gallery.job import DEPTHS, spread

    names = [f"l{i}" for i in range(81)]
    picked = spread(names, DEPTHS)
    assert len(picked) == DEPTHS and picked[0] == "l0" and picked[-1] == "l80"
    assert picked == sorted(set(picked), key=names.index)  # distinct, in depth order
    assert spread(names[:5], DEPTHS) == names[:5]
