"""Figures that scale to deep networks and 1000 classes, and captions computed from what is
shown: synthetic stored results (a 41- and a 100-stage randomisation cascade, inversions from
80 layers, a 1000-class model's class models and a 30-class fooling grid, grids of one class,
a model that gets no image right), each figure checked for labels that overlap or enumerate
every class, each caption for numbers that match what the figure shows."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from bench.figures import (
    category_ticks,
    name_list,
    shared_prefix,
    shorten,
    thinned,
    two_lines,
)
from bench.kinds.attribution_calls import LEFT_OUT
from bench.spec import Job, JobOutput
from tests.runs import write_synthetic_run

METHODS = ("saliency", "smoothgrad", "grad_cam")
#: a 1000-class model's names: ImageNet-like, a few of them long
NAMES = [f"class{i}" for i in range(1000)]
NAMES[3] = "American Staffordshire terrier"


# -- helpers ----------------------------------------------------------------------------------

@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Figure]]:
    """Every figure a section makes, drawn, instead of its PNG (the sections call
    ``to_data_uri`` by the name they imported)."""
    made: list[Figure] = []

    def keep(fig: Figure) -> str:
        fig.canvas.draw()
        made.append(fig)
        return "data:image/png;base64,"

    for module in ("quality.section", "gallery.figures", "fooling.section",
                   "examples.section"):
        monkeypatch.setattr(f"bench.kinds.{module}.to_data_uri", keep)
    yield made
    for fig in made:
        plt.close(fig)


def tick_texts(ax: plt.Axes, axis: str = "x") -> list[plt.Text]:
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t for t in ticks if t.get_visible() and t.get_text()]


def overlapping(texts: list[Any]) -> list[tuple[str, str]]:
    """Pairs of texts whose drawn boxes overlap (by more than a pixel); for slanted labels
    (parallel lines of text), neighbours closer across their slant than their font's
    height."""
    slanted = [t for t in texts if t.get_rotation() % 90]
    if slanted:
        out = []
        for a, b in zip(slanted, slanted[1:], strict=False):
            (xa, _), (xb, _) = (t.get_transform().transform(t.get_position()) for t in (a, b))
            across = abs(xb - xa) * np.sin(np.radians(a.get_rotation()))
            if across < a.get_fontsize() * a.figure.dpi / 72:
                out.append((a.get_text(), b.get_text()))
        return out
    boxes = [(t.get_text(), t.get_window_extent().expanded(1.0, 1.0).padded(-1)) for t in texts]
    return [(a, b) for i, (a, box) in enumerate(boxes) for b, other in boxes[i + 1:]
            if box.overlaps(other)]


def section(page: str, kind: str) -> str:
    found = re.search(rf'<section id="{kind}">(.*?)</section>', page, re.S)
    assert found, kind
    return found.group(1)


def text(part: str) -> str:
    """A fragment of the page as the reader sees it: no tags, no images, one space."""
    part = re.sub(r'src="data:[^"]*"', "", part)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split())


# -- stored results ---------------------------------------------------------------------------

def resnet_cascade(stages: int) -> list[str]:
    """Module names of a ResNet-like cascade, output first: ``net.fc``, ``net.layer4.1.bn2``…"""
    names = ["net.fc"]
    for i in range(stages - 1):
        block, part = divmod(i, 6)
        names.append(f"net.layer{4 - block // 2}.{1 - block % 2}."
                     + ("bn2", "conv2", "bn1", "conv1", "downsample.1", "downsample.0")[part])
    return names[:stages]


def quality(layers: list[str]) -> JobOutput:
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    curves = {"fractions": np.linspace(0, 1, 11)}
    for method in METHODS:
        base = {"model_label": "net", "method": method}
        rows += [{**base, "metric": m, "value": v}
                 for m, v in (("deletion_auc", 0.2), ("insertion_auc", 0.4),
                              ("randomisation_passed", 1.0))]
        for metric in ("randomisation_spearman", "randomisation_spearman_abs",
                       "randomisation_ssim"):
            values = np.linspace(0.9, -0.8, len(layers)) + 0.05 * rng.random(len(layers))
            rows += [{**base, "metric": metric, "value": float(v), "stage": stage,
                      "layer": layer} for stage, (layer, v) in enumerate(zip(layers, values,
                                                                               strict=True))]
        curves[f"deletion_{method}"] = np.linspace(1, 0, 11)
        curves[f"insertion_{method}"] = np.linspace(0, 1, 11)
    rows.append({"model_label": "net", "method": "guided_backprop", "metric": LEFT_OUT,
                 "value": 1.0, "reason": "not all nn.ReLU"})
    return JobOutput(rows, {"curves": curves})


def gallery(depths: int, classes: int, names: list[str]) -> JobOutput:
    rng = np.random.default_rng(1)
    layers = [f"model.features.{i}.block.{i % 3}" for i in range(depths)]
    art = {
        "class_names": np.array(names, dtype=str),
        "class_models": rng.random((2, classes, 3, 8, 8)).astype(np.float32),
        "class_variants": np.array(["none", "all"], dtype=str),
        "class_losses": -np.exp(-np.linspace(0, 3, 6))[None].repeat(2, 0),
        "inversion_original": rng.random((3, 8, 8)).astype(np.float32),
        "inversions": rng.random((depths, 3, 8, 8)).astype(np.float32),
        "inversion_layers": np.array(layers, dtype=str),
        "inversion_losses": np.exp(-np.linspace(0, 3, 6))[None].repeat(depths, 0),
    }
    rows = [{"model_label": "deep", "method": "class_model", "variant": v,
             "metric": "target_probability", "value": 0.5} for v in ("none", "all")]
    rows += [{"model_label": "deep", "method": "feature_inversion", "layer": layer,
              "depth": d, "metric": m, "value": 0.1} for d, layer in enumerate(layers)
             for m in ("feature_error", "pixel_error")]
    return JobOutput(rows, {"gallery": art})


def fooling(classes: list[int], names: list[str], reached: bool = True) -> JobOutput:
    k = len(classes)
    success = np.full((k, k), reached) | np.eye(k, dtype=bool)
    success[0, 1:2] = False  # one cell short, unless the grid is 1x1
    art = {"classes": np.array(classes), "sources": np.arange(k),
           "images": np.random.default_rng(2).random((k, k, 3, 8, 8)).astype(np.float32),
           "target_prob": np.where(success, 0.9, 0.1), "predicted": np.zeros((k, k), int),
           "success": success, "class_names": np.array(names, dtype=str)}
    rows = [{"model_label": "wide", "method": "fooling_grid", "metric": "success_rate",
             "value": 0.5}]
    return JobOutput(rows, {"fooling": art})


def examples(label: str, labels: list[int], preds: list[int],
             preds_adv: list[int]) -> JobOutput:
    n = len(labels)
    rng = np.random.default_rng(3)
    clean = rng.random((n, 3, 8, 8)).astype(np.float32)
    art = {"clean": clean, "adversarial": clean + 0.01, "perturbation": np.full_like(clean, 0.01),
           "label": np.array(labels), "pred": np.array(preds), "confidence": np.full(n, 0.4),
           "pred_adv": np.array(preds_adv), "confidence_adv": np.full(n, 0.5),
           "class_names": np.array(NAMES, dtype=str)}
    rows = [{"model_label": label, "method": "pgd", "metric": "success_rate", "value": 1.0}]
    return JobOutput(rows, {"examples": art})


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    grid = {"norm": "linf", "eps": 0.03, "steps": 2}
    example = {"attack": "pgd", "norm": "linf", "eps": 0.03}
    outputs = [
        (Job("quality", {"model": "resnet", "n": 8}), quality(resnet_cascade(41))),
        (Job("quality", {"model": "deeper", "n": 8}), quality(resnet_cascade(100))),
        (Job("gallery", {"model": "deep"}), gallery(80, 10, NAMES)),
        (Job("fooling", {"model": "wide", **grid}), fooling(list(range(0, 60, 2)), NAMES)),
        (Job("fooling", {"model": "one", **grid}), fooling([3], NAMES)),
        # no image right; one of three right (the wrong ones are not 'fooled')
        (Job("examples", {"model": "none right", **example}),
         examples("no image right", [3, 281, 504], [7, 7, 7], [9, 9, 9])),
        (Job("examples", {"model": "one right", **example}),
         examples("a third right", [3, 281, 504], [3, 7, 7], [9, 9, 9])),
    ]
    return write_synthetic_run(tmp_path_factory.mktemp("scaling") / "run",
                               outputs).read_text(encoding="utf-8")


# -- the shared helpers -----------------------------------------------------------------------

def test_helpers_thin_shorten_and_strip_the_shared_path() -> None:
    assert thinned(5, 10) == [0, 1, 2, 3, 4]
    keep = thinned(100, 30)
    assert len(keep) <= 30 and keep[0] == 0 and keep[-1] == 99
    assert all(b - a >= 2 for a, b in zip(keep, keep[1:], strict=False))
    assert shared_prefix(["net.layer1.0", "net.layer2.0", "net.fc"]) == "net."
    assert shared_prefix(["net.fc"]) == "" and shared_prefix(["a.b", "a"]) == ""
    assert shared_prefix(["net.layer1", "net.fc"]) == "net."
    # never down to a bare index
    assert shared_prefix(["features.1", "features.2"]) == ""
    assert shared_prefix(["m.features.0.a", "m.features.9.b"]) == "m."
    assert len(shorten("layer4.0.downsample.1.something", 16)) == 16
    assert two_lines("conv_stem", 14) == "conv_stem"
    assert two_lines("blocks.1.0.conv_pwl", 14) == "blocks.1.0\nconv_pwl"
    assert all(len(line) <= 14 for line in two_lines("a.bcdefghijklmnopqrstuvw", 14).split("\n"))
    assert name_list(NAMES[:3]) == "class0, class1, class2"
    assert name_list(NAMES, 12).endswith("… and 988 more")


@pytest.mark.parametrize("count", [4, 12, 41, 100])
def test_category_ticks_never_overlap(count: int) -> None:
    fig, ax = plt.subplots(figsize=(4.0, 3.0))
    labels = resnet_cascade(count)
    ax.plot(range(count), range(count))
    keep = category_ticks(ax, list(range(count)), labels, inches=3.2)
    fig.canvas.draw()
    assert keep[-1] == count - 1 and overlapping(tick_texts(ax)) == []
    plt.close(fig)


# -- quality: the randomisation cascade ----------------------------------------------------------

@pytest.mark.parametrize("stages", [8, 41, 100])
def test_randomisation_labels_are_readable_at_any_depth(stages: int,
                                                        figures: list[Figure]) -> None:
    from bench.kinds.quality.section import build

    layers = resnet_cascade(stages) if stages > 8 else [f"layer{i}.0" for i in range(stages)]
    rows = pd.DataFrame(quality(layers).rows).assign(job_id="j", n=8)
    (entry,) = build(rows, lambda job_id, name: quality(layers).artifacts["curves"])
    (fig,) = figures
    panels = [ax for ax in fig.axes if ax.get_title().startswith("randomisation")]
    assert len(panels) == 3
    for ax in panels:
        ticks = tick_texts(ax)
        assert overlapping(ticks) == [], ax.get_title()
        assert len(ticks) == entry["named"] <= stages
        # the names lose the path they share; the last stage is always named
        assert not any(t.get_text().startswith("net.") for t in ticks)
        assert ticks[-1].get_text() == layers[-1][len(entry["prefix"]):]
        # every value is inside the axis, however far below 0 it falls
        assert ax.get_ylim()[0] <= -0.8
    assert entry["stages"] == stages
    assert entry["named"] == stages if stages <= 41 else entry["named"] < stages
    assert fig.get_figwidth() <= 13.5


def test_quality_caption_says_how_many_stages_are_named(page: str) -> None:
    part = text(section(page, "quality"))
    assert "The cascade has 41 stages" in part and "The cascade has 100 stages" in part
    assert part.count("without the path net. all share") == 2
    named = re.findall(r"the axis names (\d+) of them", part)
    assert len(named) == 1 and int(named[0]) < 100  # only the 100-stage cascade is thinned


# -- gallery: inversions by depth and 1000-class class models --------------------------------------

def test_inversions_from_80_layers_wrap_and_titles_do_not_overlap(
        figures: list[Figure]) -> None:
    from bench.kinds.gallery.figures import (
        INVERSION_COLUMNS,
        MAX_INVERSIONS,
        inversion_figure,
        losses_figure,
    )

    art = gallery(80, 10, NAMES).artifacts["gallery"]
    inversion_figure(art)
    losses_figure(art, evaluations={}, dream_steps=None)
    inversions, losses = figures
    shown = [ax for ax in inversions.axes if ax.images]
    assert len(shown) == MAX_INVERSIONS + 1  # the original and 31 evenly spread layers
    titles = [ax.title for ax in shown]
    assert overlapping(titles) == []
    rows = {round(ax.get_position().y0, 3) for ax in shown}
    assert len(rows) == -(-len(shown) // INVERSION_COLUMNS)
    # the deepest is always shown; a long path over two lines
    assert shown[-1].get_title().startswith("features.79\nblock.1")
    # the loss panels name at most a handful of their 80 traces
    for ax in losses.axes:
        legend = ax.get_legend()
        if legend is not None:
            assert len(legend.get_texts()) <= 8


def test_eight_long_layer_names_keep_apart(figures: list[Figure]) -> None:
    # an EfficientNet's inversions: eight titles like blocks.1.0.conv_pwl in one row
    from bench.kinds.gallery.figures import inversion_figure

    art = gallery(8, 4, NAMES[:4]).artifacts["gallery"]
    art["inversion_layers"] = np.array([f"net.blocks.{i}.0.conv_pwl" for i in range(8)])
    inversion_figure(art)
    (fig,) = figures
    assert overlapping([ax.title for ax in fig.axes if ax.images]) == []


def test_gallery_captions_count_what_is_shown(page: str) -> None:
    part = text(section(page, "gallery"))
    assert "for the model's first 10 of its 1000 classes" in part
    assert "American Staffordshire terrier" in part and "class999" not in part
    assert "The figure shows 31 of the 80 inverted layers" in part
    assert "each layer named without the path model. all share" in part
    # the table still lists every layer, by its full name
    assert section(page, "gallery").count('<td class="l">model.features.') == 80


def test_class_model_columns_do_not_overlap(figures: list[Figure]) -> None:
    from bench.kinds.gallery.figures import MAX_CLASS_COLUMNS, class_models_figure

    art = gallery(2, 60, NAMES).artifacts["gallery"]
    class_models_figure(art, {})
    (fig,) = figures
    ticks = tick_texts(fig.axes[0])
    assert len(ticks) <= MAX_CLASS_COLUMNS and overlapping(ticks) == []


# -- fooling: 30 of 1000 classes, and a grid of one class ---------------------------------------

def test_a_wide_fooling_grid_shows_ten_classes_that_fit(figures: list[Figure]) -> None:
    from bench.kinds.fooling.section import MAX_GRID, build

    out = fooling(list(range(0, 60, 2)), NAMES)
    rows = pd.DataFrame(out.rows).assign(job_id="j", norm="linf", eps=0.03, steps=2)
    (entry,) = build(rows, lambda job_id, name: out.artifacts["fooling"])
    (fig,) = figures
    ax = fig.axes[0]
    assert len(tick_texts(ax, "x")) == len(tick_texts(ax, "y")) == MAX_GRID
    assert overlapping(tick_texts(ax, "x")) == [] and overlapping(tick_texts(ax, "y")) == []
    assert fig.get_figwidth() <= 10.0
    # the counts are those of the cells shown: 10 x 10 less the diagonal, one short
    assert (entry["classes"], entry["of"], entry["model_classes"]) == (10, 30, 1000)
    assert (entry["cells"], entry["reached"]) == (90, 89)
    # every cell shown has its probability written under it
    assert sum(1 for t in ax.texts if re.fullmatch(r"\d\.\d\d", t.get_text())) == 100


def test_fooling_captions_say_what_is_shown(page: str) -> None:
    part = section(page, "fooling")
    readable = text(part)
    assert "The first 10 of the grid's 30 classes (of the model's 1000)" in readable
    assert "89 of the 90 off-diagonal cells shown reach their target class" in readable
    assert "class58" not in readable  # the 30th class is not shown, nor named
    # the one-class grid: a sentence instead of a 1x1 figure and a dash
    assert part.count("<img") == 1
    assert "No grid to show" in readable and "single class (American Staffordshire terrier" \
        in readable
    assert "–" not in readable and " of the 0 " not in readable


# -- examples: a model that gets none, or one, right ---------------------------------------------

def test_example_captions_count_what_is_shown(page: str) -> None:
    part = text(section(page, "examples"))
    none, one = part.split("a third right", 1)
    assert "classifies none of the sampled images correctly" in none
    assert "these 3 are the sample's first" in none
    assert "fools it" not in none and "100%" not in none
    assert "classifies 1 of these 3 images correctly" in one
    assert "fools it on 1 of those 1" in one and "the other 2 are shown as sampled" in one


def test_a_model_that_gets_nothing_right_has_an_empty_grid_and_a_sentence(
        tmp_path: Path) -> None:
    """No job failure and no attack: an empty grid, which the section explains."""
    import torch

    from bench.kinds.fooling.job import run

    class Wrong(torch.nn.Module):
        label = "always wrong"

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(len(x), 3).index_fill(1, torch.tensor([0]), 1.0)

    class Context:
        def model(self, name: str, weights: str | None) -> Wrong:
            return Wrong()

        def sample(self, dataset: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.rand(n, 1, 8, 8), torch.full((n,), 2)

        def class_names(self, net: Wrong) -> list[str]:
            return ["a", "b", "c"]

    out = run(Context(), model="m", dataset="d", n=5, seed=0, eps=0.1,  # type: ignore[arg-type]
              steps=1, rel_alpha=0.5)
    assert out.artifacts["fooling"]["classes"].size == 0
    job = Job("fooling", {"model": "m", "norm": "linf", "eps": 0.1})
    page = write_synthetic_run(tmp_path / "run", [(job, out)]).read_text(encoding="utf-8")
    part = section(page, "fooling")
    assert "<img" not in part and "No results" not in part
    assert "classifies none of the 5 sampled images correctly" in text(part)


def test_class_models_of_a_1000_class_model_are_of_the_datas_classes(tmp_path: Path) -> None:
    """The job makes class models of the classes its data holds (here 4 of 1000); the
    caption names those, not the model's first classes."""
    from types import SimpleNamespace

    import torch

    from bench.kinds.gallery.job import shown_classes

    data = {"pics": (torch.zeros(6, 3, 8, 8), torch.tensor([812, 3, 281, 3, 504, 812]))}
    g = SimpleNamespace(net=SimpleNamespace(num_classes=1000),
                        ctx=SimpleNamespace(dataset=data.__getitem__))
    assert shown_classes(g, "pics", 10) == [3, 281, 504, 812]  # type: ignore[arg-type]
    assert shown_classes(g, "pics", 2) == [3, 281]  # type: ignore[arg-type]
    g.net.num_classes = 10
    assert shown_classes(g, "pics", 10) == list(range(10))  # type: ignore[arg-type]

    out = gallery(2, 4, NAMES)
    out.artifacts["gallery"]["class_ids"] = np.array([3, 281, 504, 812])
    page = write_synthetic_run(tmp_path / "run", [(Job("gallery", {"model": "deep"}), out)])
    part = text(section(page.read_text(encoding="utf-8"), "gallery"))
    assert ("for 4 classes of the test data, of the model's 1000 (American Staffordshire "
            "terrier, class281, class504, class812)") in part
