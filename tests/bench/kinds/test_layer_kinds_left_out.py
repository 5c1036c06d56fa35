"""The representation, gallery and stress jobs on models people bring, declared in a suite's
``[models.*]`` tables from a factory file written here: a model that takes one input size and
asserts it (as timm's Vision Transformer does), a channel-normalised GELU network (as
ConvNeXt is), a network whose deep units see the whole image through a global gate (as
MobileNetV3's squeeze-and-excitation makes them), one gated from the input on, and a traced
TorchScript model. No job fails: what a model does not allow is left out, the reason stored
and shown on the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from bench.kinds.attribution_calls import LEFT_OUT
from bench.kinds.representation.job import PATCHES_VIEW, VIEWS, VIEWS_SHOWN
from bench.store import load, load_artifact
from tests.runs import run_with_report
from zoo.layers import SCRIPTED

NETS = '''
import torch
from torch import nn


class Fixed(nn.Module):
    """Takes 16 x 16 images only, and asserts it; 8-pixel patches."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(3, 4, 8, stride=8)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        assert x.shape[-1] == 16, f"Input height ({x.shape[-1]}) doesn't match model (16)."
        return self.head(torch.nn.functional.gelu(self.embed(x)).flatten(1))


class Gate(nn.Module):
    """Squeeze and excitation: each channel scaled by a function of its global mean."""

    def __init__(self, channels):
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc(x.mean(dim=(2, 3), keepdim=True)))


def fixed():
    torch.manual_seed(0)
    return Fixed()


def normed():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 2, stride=2), nn.GroupNorm(1, 4), nn.GELU(),
                         nn.Conv2d(4, 4, 3, padding=1), nn.GroupNorm(1, 4), nn.GELU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


def gated():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), Gate(4),
                         nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


def gated_input():
    torch.manual_seed(0)
    return nn.Sequential(Gate(3), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
'''

MODELS = ("fixed", "normed", "gated", "gated_input", "traced")


def write_traced(path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 2)).eval()
    torch.jit.trace(net, torch.rand(2, 3, 16, 16)).save(str(path))


def suite_of(root: Path) -> dict[str, Any]:
    (root / "nets.py").write_text(NETS)
    write_traced(root / "traced.ts")
    rng = np.random.default_rng(0)
    for name in ("ant", "bee"):
        (root / "pics" / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, size=(20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "pics" / name / f"{i}.png")
    models = {name: {"source": f"nets.py:{name}", "input_size": 16, "data": "pics"}
              for name in MODELS if name != "traced"}
    models["traced"] = {"source": "traced.ts", "input_size": 16, "data": "pics"}
    return {
        "name": "brought", "seed": 0, "models": models, "data": {"pics": {"root": "pics"}},
        "task": [
            {"kind": "representation", "model": list(MODELS), "n": 8},
            {"kind": "gallery", "model": ["fixed", "traced"], "classes_shown": 2, "steps": 2,
             "inversion_steps": 2, "dream_steps": 2, "style_steps": 2, "photo_size": 16},
            {"kind": "stress", "model": ["fixed", "traced"],
             "method": ["class_model", "deep_dream"], "sizes": [16, 24], "steps_grid": [2]},
        ],
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("brought")
    return run_with_report(suite_of(root), root)


def rows_of(df: pd.DataFrame, kind: str, model: str) -> pd.DataFrame:
    return df[(df["kind"] == kind) & (df["model"] == model)]


def left_out(rows: pd.DataFrame, column: str) -> dict[Any, str]:
    out = rows[rows["metric"] == LEFT_OUT]
    return dict(zip(out[column], out["reason"], strict=True))


def views_of(run: Path, df: pd.DataFrame, model: str) -> dict[str, np.ndarray]:
    return load_artifact(run, rows_of(df, "representation", model)["job_id"].iloc[0], VIEWS)


def test_representation_leaves_out_what_the_model_does_not_allow(run: Path) -> None:
    df = load(run)
    # the fixed-size model: its patches' field needs a 32-pixel probe, which it refuses
    fixed = left_out(rows_of(df, "representation", "fixed"), "view")
    assert list(fixed) == [PATCHES_VIEW]
    assert "does not run at that size (AssertionError: Input height (32)" in fixed[PATCHES_VIEW]
    # channel norms: the field is measured (the linearised copy drops the norms)
    normed = rows_of(df, "representation", "normed")
    assert left_out(normed, "view") == {}
    assert normed.loc[normed["metric"] == "receptive_field", "value"].tolist() == [6.0]
    # behind the gate every unit sees the whole image: the patches come from before it
    gated = rows_of(df, "representation", "gated")
    assert left_out(gated, "view") == {}
    assert gated.loc[gated["metric"] == "receptive_field", "layer"].tolist() == ["net.1"]
    gated_input = left_out(rows_of(df, "representation", "gated_input"), "view")
    assert list(gated_input) == [PATCHES_VIEW]
    assert "its units see the whole image" in gated_input[PATCHES_VIEW]
    # TorchScript: every view that reads a layer, with the reason; occlusion and pixels stay
    assert left_out(rows_of(df, "representation", "traced"), "view") == dict.fromkeys(
        VIEWS_SHOWN, SCRIPTED)
    traced = views_of(run, df, "traced")
    assert "occlusion" in traced and "pixel_neighbours" in traced and "patches" not in traced
    # patches are cropped to the image: the in-image part of each is stored
    art = views_of(run, df, "gated")
    assert art["patch_inside"].shape == (*art["patches"].shape[:2], 4)


def test_gallery_and_stress_leave_out_parts_with_the_reason(run: Path) -> None:
    df = load(run)
    assert left_out(rows_of(df, "gallery", "fixed"), "method") == {}  # dream in one octave
    assert left_out(rows_of(df, "gallery", "traced"), "method") == dict.fromkeys(
        ["neuron_visualisation", "feature_inversion", "deep_dream", "style_transfer"],
        SCRIPTED)
    # a model with one feature layer gets one row of channel visualisations, not two alike
    art = load_artifact(run, rows_of(df, "gallery", "fixed")["job_id"].iloc[0], "gallery")
    assert list(art["neuron_layers"]) == ["net.embed"] and len(art["neurons"]) == 1
    traced = rows_of(df, "gallery", "traced")
    assert (traced["method"] == "class_model").any()  # needs no layer
    stress = df[df["kind"] == "stress"]
    out = stress[stress["metric"] == LEFT_OUT]
    reasons = {(r["model"], r["method"], None if pd.isna(r["size"]) else int(r["size"])):
               r["reason"] for _, r in out.iterrows()}
    refused = "the model does not run at 24 x 24 px"
    assert reasons == {("fixed", "class_model", 24): refused,
                       ("fixed", "deep_dream", 24): refused,
                       ("traced", "deep_dream", None): SCRIPTED}
    ran = stress[(stress["metric"] == "finite")]
    assert set(zip(ran["model"], ran["method"], ran["size"], strict=True)) == {
        ("fixed", "class_model", 16), ("fixed", "deep_dream", 16),
        ("traced", "class_model", 16), ("traced", "class_model", 24)}


def section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]


def test_the_page_says_why(run: Path) -> None:
    html = (run / "index.html").read_text(encoding="utf-8")
    text = section(html, "representation")
    assert "top patches: left out: layer &#39;net.embed&#39;: measuring" in text
    assert f"activations: left out: {SCRIPTED.replace(chr(39), '&#39;')}." in text
    assert "left out: " in section(html, "gallery")
    assert "channel visualisations: left out: a TorchScript" in section(html, "gallery")
    text = section(html, "stress")
    assert "fixed · class_model at 24 px: left out: the model does not run at 24 x 24 px" in text
    assert "traced · deep_dream: left out: a TorchScript" in text
