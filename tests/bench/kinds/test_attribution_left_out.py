"""The attribution, agreement and quality jobs on the models people bring, declared in a
suite's ``[models.*]`` tables from a factory file written here, on an image folder: a
MobileNetV3 (nn.Hardswish besides nn.ReLU) and a small Vision Transformer. No job fails: the
ReLU rules are left out with the reason, stored and shown on the page and the card, and
Grad-CAM names the layer it read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.kinds.agreement.job import NOT_COMPARED
from bench.kinds.attribution_calls import LEFT_OUT, MAP_LAYER
from bench.store import load, load_artifact, load_jobs
from reports.card import audit_card, card_markdown
from tests.runs import run_with_report

NETS = '''
import torch
import torchvision


def mobile():
    torch.manual_seed(0)
    return torchvision.models.mobilenet_v3_small(num_classes=3)


def vit():
    torch.manual_seed(0)
    net = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
        num_classes=3)
    torch.nn.init.normal_(net.heads.head.weight, std=0.5)  # torchvision's is all zeros
    return net
'''

MIXED = ("the model has 19 nn.Hardswish, 9 nn.Hardsigmoid besides 14 nn.ReLU: overriding "
         "only the ReLUs gives a map that is neither this method nor the gradient")
GELU = "the model has no nn.ReLU module; its activations are 2 nn.GELU"
VIT_LAYER = "net.encoder.layers.encoder_layer_1.ln_1"
METHODS = ["saliency", "guided_backprop", "grad_cam"]


def suite_of(root: Path) -> dict[str, Any]:
    (root / "nets.py").write_text(NETS)
    rng = np.random.default_rng(0)
    for name in ("ant", "bee", "cat"):
        (root / "pics" / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "pics" / name / f"{i}.png")
    return {
        "name": "brought", "seed": 0,
        "models": {"mobile": {"source": "nets.py:mobile", "input_size": 64, "data": "pics"},
                   "vit": {"source": "nets.py:vit", "input_size": 32, "data": "small"}},
        # one table per input size: the same folder, read at 64 and at 32 pixels
        "data": {"pics": {"root": "pics"}, "small": {"root": "pics"}},
        "task": [
            {"kind": "attribution", "model": ["mobile", "vit"], "n": 2},
            # named explicitly: left out all the same, not a failed job
            {"kind": "agreement", "model": ["mobile", "vit"], "n": 2, "methods": METHODS},
            {"kind": "quality", "model": "mobile", "n": 4, "curve_steps": 4,
             "methods": METHODS},
        ],
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("brought")
    return run_with_report(suite_of(root), root)


def rows_of(df: pd.DataFrame, kind: str, model: str) -> pd.DataFrame:
    return df[(df["kind"] == kind) & (df["model"] == model)]


def test_the_relu_rules_are_left_out_with_the_reason(run: Path) -> None:
    df = load(run)
    for kind in ("attribution", "agreement", "quality"):
        left = rows_of(df, kind, "mobile")
        left = left[left["metric"] == LEFT_OUT].set_index("method")["reason"].to_dict()
        expected = ({"guided_backprop", "deconvnet"} if kind == "attribution"
                    else {"guided_backprop"})
        assert left == dict.fromkeys(expected, MIXED), kind
    left = rows_of(df, "attribution", "vit")
    assert left[left["metric"] == LEFT_OUT].set_index("method")["reason"].to_dict() == {
        "guided_backprop": GELU, "deconvnet": GELU}
    # the others ran: their maps are stored, the left-out ones are not
    jobs = load_jobs(run).set_index("label")
    art = load_artifact(run, jobs.loc["attribution mobile", "job_id"], "maps")
    assert list(art["methods"]) == ["saliency", "smoothgrad", "integrated_gradients",
                                    "occlusion", "grad_cam"]
    assert "map_guided_backprop" not in art
    assert art["map_grad_cam"].shape == (2, 1, 64, 64)


def test_grad_cam_names_the_layer_it_read(run: Path) -> None:
    df = load(run)
    cam = df[df["method"] == "grad_cam"]
    layers = cam.groupby(["kind", "model"])[MAP_LAYER].unique().to_dict()
    assert {k: list(v) for k, v in layers.items()} == {
        ("attribution", "mobile"): ["net.features"], ("attribution", "vit"): [VIT_LAYER],
        ("agreement", "mobile"): ["net.features"], ("agreement", "vit"): [VIT_LAYER],
        ("quality", "mobile"): ["net.features"]}
    assert cam[MAP_LAYER].notna().all()
    assert df.loc[df["method"] != "grad_cam", MAP_LAYER].isna().all()
    # Captum agrees where it defines Grad-CAM (a conv map); it has no token layout
    mobile = rows_of(df, "agreement", "mobile")
    mobile = mobile[mobile["method"] == "grad_cam"].set_index("metric")["value"]
    assert mobile["relative_error"] <= 1e-5
    vit = rows_of(df, "agreement", "vit")
    vit = vit[vit["method"] == "grad_cam"]
    assert list(vit["metric"]) == [NOT_COMPARED]
    assert "transformer tokens (N, 17, 32)" in vit["reason"].iloc[0]
    art = load_artifact(run, load_jobs(run).set_index("label").loc["attribution vit", "job_id"],
                        "maps")
    assert art["map_grad_cam"].shape == (2, 1, 32, 32)  # upsampled from the 4 x 4 grid


def section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]


def test_the_page_and_the_card_say_why(run: Path) -> None:
    html = (run / "index.html").read_text(encoding="utf-8")
    for name in ("attribution", "agreement", "quality"):
        text = section(html, name)
        assert "left out: the model has 19 nn.Hardswish, 9 nn.Hardsigmoid besides 14 nn.ReLU" \
            in text, name
        assert "<code>net.features</code>" in text, name
    assert f"left out: {GELU}" in section(html, "attribution")
    assert f"Grad-CAM reads layer <code>{VIT_LAYER}</code>" in section(html, "attribution")
    assert "not compared: layer " + VIT_LAYER in section(html, "agreement")
    card = {m["key"]: m for m in audit_card(run)["models"]}
    methods = {a["method"]: a for a in card["mobile"]["attribution"]}
    assert methods["guided_backprop"]["left_out"] == MIXED
    assert methods["deconvnet"]["left_out"] == MIXED  # from the attribution job
    assert methods["grad_cam"]["layer"] == "net.features"
    assert methods["grad_cam"]["deletion_auc"] is not None
    md = card_markdown(audit_card(run))
    assert f"| attribution: guided_backprop | left out: {MIXED} |" in md
    assert "| attribution: grad_cam | layer net.features, randomisation" in md
    assert "left out: the model has 19 nn.Hardswish" in section(html, "card")
