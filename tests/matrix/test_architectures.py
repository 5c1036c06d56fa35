"""The architecture matrix: the quick audit (``auditbench run --model ... --quick``) of every
model in ``architectures.py`` and of a ResNet's TorchScript and ``torch.export`` forms, on a
folder of photo crops at 32 px. Every job finishes; every attribution method either made its
maps or is left out with a reason, and every reason stored is on the page; the randomisation
cascade stays within its bound of blocks."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import torch

pytest.importorskip("timm")

from attribution import list_methods  # noqa: E402
from auditbench.cli import main  # noqa: E402
from bench.kinds.attribution_calls import LEFT_OUT  # noqa: E402
from bench.kinds.quality.job import RANDOMISATION_SPEARMAN  # noqa: E402
from bench.store import load, load_artifact, load_jobs  # noqa: E402
from tests.bench.test_own_model_audit import write_photo_folder  # noqa: E402
from tests.matrix import architectures  # noqa: E402
from zoo.blocks import DEFAULT_BLOCKS  # noqa: E402

HERE = Path(architectures.__file__).resolve()
#: factory -> the extra arguments its audit needs
FACTORIES = {
    "resnet": [], "efficientnet": [], "mobilenet": [], "convnext": [], "vit": [],
    "tuple_output": ["--output", "0"], "dict_output": ["--output", "logits"],
    "training_mode": [],
}
FORMS = ("torchscript", "export")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_photo_folder(tmp_path_factory.mktemp("matrix") / "photos", per_class=8)


def saved_form(form: str, root: Path) -> Path:
    """The ResNet as a user exports it: traced to TorchScript, or ``torch.export`` with a
    dynamic batch."""
    model, x = architectures.resnet().eval(), torch.rand(2, 3, 32, 32)
    if form == "torchscript":
        path = root / "resnet.ts"
        torch.jit.save(torch.jit.trace(model, x), path)
    else:
        path = root / "resnet.pt2"
        batch = torch.export.Dim("batch", min=1, max=1024)
        torch.export.save(torch.export.export(model, (x,), dynamic_shapes=({0: batch},)), path)
    return path


def audit(spec: str, extra: list[str], folder: Path, out: Path) -> Path:
    status = main(["run", "--model", spec, "--data", str(folder), "--input-size", "32",
                   "--quick", "--threads", "1", "--out", str(out), *extra])
    jobs = load_jobs(out)
    failed = jobs[jobs["status"] != "done"]
    assert status == 0 and failed.empty, failed[["label", "error"]].to_string()
    return out


def check_nothing_vanishes(out: Path) -> None:
    rows = load(out)
    page = html.unescape((out / "index.html").read_text(encoding="utf-8"))
    # every reason a job stored for what it left out is shown on the page
    reasons = set(rows["reason"].dropna()) if "reason" in rows else set()
    for reason in reasons:
        assert reason in page, reason
    jobs = load_jobs(out)
    job_id = jobs.loc[jobs["kind"] == "attribution", "job_id"].iloc[0]
    mapped = set(load_artifact(out, job_id, "maps")["methods"])
    left_out = set(rows.loc[(rows["kind"] == "attribution") & (rows["metric"] == LEFT_OUT),
                            "method"])
    assert mapped.isdisjoint(left_out)
    assert mapped | left_out == set(list_methods())  # each made its maps or says why not
    assert "saliency" in mapped
    stages = rows[(rows["kind"] == "quality") & (rows["metric"] == RANDOMISATION_SPEARMAN)]
    per_method = stages.groupby("method")["layer"].nunique()
    assert not per_method.empty and (per_method <= DEFAULT_BLOCKS).all()


@pytest.mark.parametrize("factory", list(FACTORIES))
def test_quick_audit_of_an_architecture(factory: str, folder: Path, tmp_path: Path) -> None:
    out = audit(f"{HERE}:{factory}", FACTORIES[factory], folder, tmp_path / "run")
    check_nothing_vanishes(out)


@pytest.mark.parametrize("form", FORMS)
def test_quick_audit_of_an_exported_resnet(form: str, folder: Path, tmp_path: Path) -> None:
    out = audit(str(saved_form(form, tmp_path)), [], folder, tmp_path / "run")
    check_nothing_vanishes(out)
    rows = load(out)
    left = rows[(rows["kind"] == "attribution") & (rows["metric"] == LEFT_OUT)]
    # the graph hides its layers: the methods that hook them say so
    assert {"guided_backprop", "deconvnet", "grad_cam"} <= set(left["method"])

