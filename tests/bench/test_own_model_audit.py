"""Auditing your own model and data end to end: ``auditbench run --model ... --data ...`` on a
tiny model defined in this file (``file.py:factory``) and on a TorchScript export of a shipped
model, each with an image folder written here from bundled images; then the bad inputs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import zoo
from auditbench.cli import main
from bench.audit import AuditRequest, write_audit_suite
from bench.definitions import ModelDef, parse_definitions
from bench.store import load, load_jobs, load_meta, load_perf
from bench.suite import Suite, load_suite
from bench.user_assets import load_defined_model

PHOTO_CLASSES = ("cat", "coffee", "rocket")
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def tiny_net() -> nn.Module:
    """The user's model: a small CNN with three outputs (seeded, untrained)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 3),
    )


class LogitsAndFeatures(nn.Module):
    """A model that returns ``(logits, features)``: audited with ``--output 0``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return self.head(features), features


def tuple_net() -> nn.Module:
    return LogitsAndFeatures()


def five_outputs() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 5))


def raising_factory() -> nn.Module:
    raise RuntimeError("no GPU named cuda:7")


def not_a_module() -> dict[str, int]:
    return {"layers": 3}


FACTORY = f"{Path(__file__).resolve()}:tiny_net"


def write_photo_folder(root: Path, per_class: int = 10) -> Path:
    """Crops of three bundled photos, one sub-folder per class, in mixed modes (RGB, grey,
    RGBA), plus a file that is not an image at all."""
    rng = np.random.default_rng(0)
    for name, photo in zip(PHOTO_CLASSES, ("chelsea", "coffee", "rocket"), strict=True):
        image = zoo.load_photo(photo, 96).permute(1, 2, 0).mul(255).byte().numpy()
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            side = int(rng.integers(56, 96))
            top, left = rng.integers(0, 96 - side + 1, size=2)
            crop = Image.fromarray(image[top:top + side, left:left + side])
            mode = ("RGB", "L", "RGBA")[i % 3]
            crop.convert(mode).save(root / name / f"{i:02d}.png")
    (root / "cat" / "notes.png").write_bytes(b"this is not a png")
    return root


def write_digit_folder(root: Path, per_class: int = 12) -> Path:
    """Test digits as grey PNGs, one sub-folder per digit ("0".."9")."""
    x, y = zoo.load_dataset("mnist5k", "test")
    for digit in range(10):
        (root / str(digit)).mkdir(parents=True)
        for i, index in enumerate(torch.nonzero(y == digit).flatten()[:per_class].tolist()):
            pixels = x[index, 0].mul(255).round().byte().numpy()
            Image.fromarray(pixels, mode="L").save(root / str(digit) / f"{i:02d}.png")
    return root


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["run", "--threads", "1", "--no-report", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def photo_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model's quick audit on the photo folder, report included."""
    tmp = tmp_path_factory.mktemp("own")
    data = write_photo_folder(tmp / "photos")
    out = tmp / "run"
    status = main(["run", "--model", FACTORY, "--input-size", "32", "--data", str(data),
                   "--quick", "--out", str(out), "--threads", "1"])
    assert status == 0, load_jobs(out)[["label", "status", "error"]].to_string()
    return out


def test_quick_audit_of_a_factory_model_runs_every_job(photo_audit: Path) -> None:
    jobs = load_jobs(photo_audit)
    assert set(jobs["status"]) == {"done"}
    kinds = set(jobs["kind"])
    assert kinds >= {"representation", "attribution", "agreement", "quality", "robustness",
                     "examples", "fooling", "sanity", "gallery", "stress"}
    meta = load_meta(photo_audit)
    model = meta["models"]["test_own_model_audit_tiny_net"]
    assert model["parameters"] == sum(p.numel() for p in tiny_net().parameters())
    assert model["input_size"] == [3, 32, 32]
    assert model["class_names"] == list(PHOTO_CLASSES)  # taken from the folder
    assert model["threat"] == {"linf": 8 / 255, "l2": 0.5}  # 32 px colour: CIFAR's budgets
    data = meta["datasets"]["images"]
    assert data["images"] == 30  # RGB, grey and RGBA files all read
    assert data["skipped"] == [["cat/notes.png", data["skipped"][0][1]]]
    # the audit suite was written next to the results, a file the user can keep and re-run
    text = (photo_audit / "audit.toml").read_text()
    assert "[models.test_own_model_audit_tiny_net]" in text and "[data.images]" in text


def test_report_and_card_use_the_users_class_names(
    photo_audit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = (photo_audit / "index.html").read_text()
    # the folder's names, in the model's class order, in the text as well as the figures
    assert "one column per class (cat, coffee, rocket)" in html
    assert "notes.png" in html  # the unreadable file is listed
    assert f"auditbench perf --suite {photo_audit / 'audit.toml'}" in html
    assert main(["card", str(photo_audit), "--format", "json"]) == 0
    card = json.loads(capsys.readouterr().out)
    (entry,) = card["models"]
    assert entry["key"] == "test_own_model_audit_tiny_net"
    df = load(photo_audit)
    clean = df[(df["kind"] == "robustness") & (df["metric"] == "clean_accuracy")]["value"]
    assert entry["clean"]["value"] == pytest.approx(float(clean.iloc[0]))
    assert entry["data"]["skipped_files"][0][0] == "cat/notes.png"


def test_rerun_of_the_written_suite_resumes(
    photo_audit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = load_meta(photo_audit)["wall_seconds"]
    status, out, _ = run(["--suite", str(photo_audit / "audit.toml"), "--out",
                          str(photo_audit)], capsys)
    assert status == 0
    assert out.startswith("0 jobs run")
    # the card's wall time adds every attempt: the resume's few seconds to the first run's
    assert load_meta(photo_audit)["wall_seconds"] > before > 0


@pytest.mark.filterwarnings("ignore:`torch.jit.:FutureWarning")
def test_torchscript_export_of_a_shipped_model_with_a_digit_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mnist_cnn scripted and audited like a stranger's model: its class names from a file,
    its labels from folder names; its clean accuracy must match the shipped model's."""
    shipped = zoo.load_model("mnist_cnn")
    scripted = tmp_path / "digits.pt"
    torch.jit.save(torch.jit.script(shipped.net), str(scripted))
    names = tmp_path / "names.txt"
    names.write_text("\n".join(DIGIT_NAMES) + "\n")
    data = write_digit_folder(tmp_path / "digits")
    out = tmp_path / "run"
    status, _, err = run(["--model", str(scripted), "--input-size", "1", "28", "28",
                          "--class-names", str(names), "--data", str(data), "--quick",
                          "--out", str(out)], capsys)
    assert status == 0, err
    meta = load_meta(out)
    model = meta["models"]["digits"]
    assert model["class_names"] == list(DIGIT_NAMES)
    assert model["threat"] == {"linf": 0.3, "l2": 2.0}
    df = load(out)
    clean = df[(df["kind"] == "robustness") & (df["metric"] == "clean_accuracy")]["value"]
    x, y = zoo.load_dataset("mnist5k", "test")
    picked = torch.cat([torch.nonzero(y == d).flatten()[:12] for d in range(10)])
    with torch.no_grad():
        expected = (shipped(x[picked]).argmax(1) == y[picked]).float().mean().item()
    # the folder holds 120 digits; the quick audit attacks 32 of them, so compare loosely
    # against the shipped model's accuracy on all 120, and strictly against chance
    assert float(clean.min()) >= expected - 0.1 > 0.5
    maps = df[df["kind"] == "examples"]
    assert not maps.empty


# --- bad input: one line on stderr, exit status 2, nothing run ------------------------------


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_photo_folder(tmp_path_factory.mktemp("small") / "photos", per_class=2)


@pytest.mark.parametrize(("factory", "expected"), [
    ("raising_factory", "raised: RuntimeError: no GPU named cuda:7"),
    ("not_a_module", "returned dict, not a torch.nn.Module"),
    ("five_outputs", "has 3 classes (cat, coffee, rocket) but model"),
])
def test_bad_models_stop_before_any_job(
    factory: str, expected: str, small_folder: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = f"{Path(__file__).resolve()}:{factory}"
    status, out, err = run(["--model", spec, "--input-size", "32", "--data", str(small_folder),
                            "--quick", "--out", str(tmp_path / "run")], capsys)
    assert status == 2
    assert expected in err and err.count("\n") == 1
    assert not (tmp_path / "run" / "results.sqlite").exists()


def test_weights_that_do_not_fit_name_the_first_key(
    small_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.pt"
    torch.save(five_outputs().state_dict(), wrong)
    status, _, err = run(["--model", FACTORY, "--weights", str(wrong), "--input-size", "32",
                          "--data", str(small_folder), "--out", str(tmp_path / "r")], capsys)
    assert status == 2
    # the first missing key is named (zoo.checkpoint words the rest)
    assert "do not match the architecture" in err and "'0.weight'" in err


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("readme.txt", b"no images here", "not an image file"),
    ("empty.png", b"", "unreadable image"),  # a zero-byte image
])
def test_folder_without_images(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                               content: bytes, reason: str) -> None:
    empty = tmp_path / "empty" / "cat"
    empty.mkdir(parents=True)
    (empty / name).write_bytes(content)
    status, _, err = run(["--model", FACTORY, "--input-size", "32", "--data",
                          str(tmp_path / "empty"), "--out", str(tmp_path / "r")], capsys)
    assert status == 2
    assert "no readable image" in err and reason in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # a refused folder leaves no audit.toml behind


@pytest.mark.parametrize(("stray", "message"), [
    ("-1", "line 4: label '-1' is not a class index"),
    ("5", "line 4: label '5' is not a class index of the model (0 to 2)"),  # 3 outputs
])
def test_a_labels_csv_with_a_stray_value_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], stray: str, message: str) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        Image.new("RGB", (32, 32), (40 * i, 0, 0)).save(flat / f"{i}.png")
    (tmp_path / "labels.csv").write_text(f"file,label\n0.png,0\n1.png,2\n2.png,{stray}\n")
    status, _, err = run(["--model", FACTORY, "--input-size", "32", "--data", str(flat),
                          "--labels-csv", str(tmp_path / "labels.csv"), "--out",
                          str(tmp_path / "r")], capsys)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_user_model_without_data_or_with_stray_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["--model", FACTORY, "--input-size", "32", "--out",
                          str(tmp_path / "r")], capsys)
    assert status == 2 and "needs images" in err
    status, _, err = run(["--weights", "w.pt"], capsys)
    assert status == 2 and "--weights is for your own model" in err
    status, _, err = run(["--model", FACTORY, "--suite", "quick"], capsys)
    assert status == 2 and "not both" in err


def test_audit_of_a_model_returning_a_tuple_with_output(
    small_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--output 0`` picks the logits of a ``(logits, features)`` model for every job; without
    it the run stops before any job, naming what the model returns and the flag."""
    spec = f"{Path(__file__).resolve()}:tuple_net"
    args = ["--model", spec, "--input-size", "16", "--data", str(small_folder), "--quick"]
    status, _, err = run([*args, "--out", str(tmp_path / "no")], capsys)
    assert status == 2 and err.count("\n") == 1
    assert "returns a tuple of 2: (Tensor(2, 3), Tensor(2, 8))" in err and "--output 0" in err
    assert not (tmp_path / "no" / "results.sqlite").exists()
    out = tmp_path / "run"
    status, stdout, err = run([*args, "--output", "0", "--out", str(out)], capsys)
    assert status == 0, load_jobs(out)[["label", "status", "error"]].to_string()
    jobs = load_jobs(out)
    assert set(jobs["status"]) == {"done"} and "robustness" in set(jobs["kind"])
    assert " 0 failed" in stdout
    text = (out / "audit.toml").read_text()
    assert "output = 0" in text and "--output 0" in text  # the table and the command line
    status, _, err = run(["--output", "0"], capsys)  # 0 is a value given, not a flag unset
    assert status == 2 and "--output is for your own model" in err


def test_output_in_a_models_table(tmp_path: Path) -> None:
    """``output`` in a ``[models.NAME]`` table: checked before any model loads, only for your
    own models, and part of the definition's digest (and so of its job ids) only when set."""
    base = {"source": f"{Path(__file__).resolve()}:tuple_net", "input_size": 16}

    def definition(**extra: object) -> ModelDef:
        return parse_definitions({"net": {**base, **extra}}, {}, base=tmp_path,
                                 where="suite").models["net"]

    plain = definition()
    unchanged = hashlib.sha256(repr(sorted(
        (k, v) for k, v in asdict(plain).items() if k != "output")).encode()).hexdigest()[:12]
    assert plain.output is None and plain.digest == unchanged  # old job ids stay
    assert definition(output=0).output == 0 and definition(output="logits").output == "logits"
    assert len({plain.digest, definition(output=0).digest, definition(output=1).digest,
                definition(output="logits").digest}) == 4
    model = load_defined_model(definition(output=0))
    assert model.output == 0 and model(torch.rand(2, 3, 16, 16)).shape == (2, 3)
    for bad in (True, 1.5, "", [0]):
        with pytest.raises(ValueError, match=r"suite, \[models.net\]: output must be an index"):
            definition(output=bad)
    with pytest.raises(ValueError, match="output is for your own models; 'tv:resnet18'"):
        parse_definitions({"net": {"source": "tv:resnet18", "output": 0}}, {}, base=tmp_path,
                          where="suite")


def test_perf_times_the_suites_own_model(photo_audit: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``auditbench perf --suite audit.toml`` times the user's model next to the reference
    and the floor, and stores the timings in the audit's own run."""
    status = main(["perf", "--suite", str(photo_audit / "audit.toml"), "--quick", "--threads",
                   "1", "--out", str(photo_audit), "-k", "saliency or fgsm"])
    capsys.readouterr()
    assert status == 0
    perf = load_perf(photo_audit)
    assert perf is not None
    mine = perf[perf["model"] == "test_own_model_audit_tiny_net"]
    assert set(mine["method"]) == {"saliency", "fgsm"}
    assert set(mine["role"]) == {"ours", "reference", "floor"}
    assert (mine["size"] == 32).all()


def test_exported_program_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ``torch.export`` program of the shipped CNN: its graph hides the layers, so the
    written suite leaves out the layer views and says so; the attacks still run."""
    shipped = zoo.load_model("mnist_cnn")
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.export.export(shipped.net, (torch.zeros(2, 1, 28, 28),),
                                  dynamic_shapes=({0: batch},))
    exported = tmp_path / "digits.pt2"
    torch.export.save(program, exported)
    data = write_digit_folder(tmp_path / "digits", per_class=4)
    out = tmp_path / "run"
    status, _, err = run(["--model", str(exported), "--input-size", "1", "28", "28",
                          "--data", str(data), "--quick", "--out", str(out)], capsys)
    assert status == 0, err
    text = (out / "audit.toml").read_text()
    assert "Its layers are hidden from hooks" in text
    jobs = load_jobs(out)
    assert "representation" not in set(jobs["kind"]) and set(jobs["status"]) == {"done"}
    df = load(out)
    clean = df[(df["kind"] == "robustness") & (df["metric"] == "clean_accuracy")]["value"]
    assert float(clean.min()) > 0.8  # the shipped CNN's digits, read through the export


# --- the transfer attack's surrogate ---------------------------------------------------------


def audit_suite_of(args: list[str], small_folder: Path, tmp_path: Path) -> Suite:

    request = AuditRequest(model=FACTORY, input_size=[32], data=str(small_folder), quick=True,
                           **dict(zip(args[::2], args[1::2], strict=True)))
    return load_suite(write_audit_suite(request, tmp_path, "test"))


def test_without_a_surrogate_the_transfer_attack_is_left_out_and_said_so(
    small_folder: Path, tmp_path: Path,
) -> None:
    suite = audit_suite_of([], small_folder, tmp_path)
    assert not [j for j in suite.jobs if j.params.get("attack") == "transfer"]
    assert "transfer attack is left out (auditbench run --surrogate SPEC adds it)" in (
        suite.description)


def test_a_surrogate_factory_gets_a_table_and_feeds_transfer_and_sanity(
    small_folder: Path, tmp_path: Path,
) -> None:
    suite = audit_suite_of(["surrogate", FACTORY], small_folder, tmp_path)
    name = "test_own_model_audit_tiny_net_surrogate"
    transfer = [j for j in suite.jobs if j.params.get("attack") == "transfer"]
    assert len(transfer) == 1 and transfer[0].params["surrogate"] == name
    sanity = [j for j in suite.jobs if j.kind == "sanity"]
    assert sanity and all(j.params["surrogate"] == name for j in sanity)
    others = [j for j in suite.jobs if j.kind == "robustness" and j not in transfer]
    assert others and all("surrogate" not in j.params for j in others)
    text = (tmp_path / "audit.toml").read_text(encoding="utf-8")
    assert f"[models.{name}]" in text and "made on " + name in text


def test_a_surrogate_that_takes_other_images_stops_before_any_job(
    small_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = run(["--model", FACTORY, "--input-size", "32", "--data", str(small_folder),
                          "--surrogate", "mnist_cnn", "--quick", "--out", str(tmp_path / "r")],
                         capsys)
    assert status == 2 and err.count("\n") == 1
    assert "surrogate 'mnist_cnn'" in err and "10 classes and input size (1, 28, 28)" in err
    assert not (tmp_path / "r" / "results.sqlite").exists()


def four_channels() -> nn.Module:
    """Issue 16's small model: one convolution of four channels, then a linear head."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))


def test_quick_audit_defaults_fit_a_model_of_four_channels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the written suite's channels, neurons and classes must fit the model: none of its
    # jobs may fail (the views once asked for channel 5 of a layer of 4)
    data = write_digit_folder(tmp_path / "digits", per_class=1)
    out = tmp_path / "run"
    status, _, err = run(["--model", f"{Path(__file__).resolve()}:four_channels",
                          "--input-size", "1", "28", "28", "--data", str(data), "--quick",
                          "--out", str(out)], capsys)
    jobs = load_jobs(out)
    assert status == 0, jobs[["label", "status", "error"]].to_string() + err
    assert len(jobs) >= 15 and set(jobs["status"]) == {"done"}
    assert {"gallery", "representation", "stress", "fooling"} <= set(jobs["kind"])
