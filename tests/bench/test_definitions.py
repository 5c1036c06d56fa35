"""Suite files that declare their own models and folders: ``[models.NAME]`` / ``[data.NAME]``
tables, checked before anything loads; paths relative to the suite; job ids that follow the
definition; the folder read at the model's size with its labels in the model's order."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from bench.audit import audit_suite_text, audit_tasks, model_key, quick_count
from bench.context import RunContext
from bench.definitions import toml_value
from bench.suite import SuiteError, load_suite
from bench.threat import standard_eps

NET = '''
import torch
from torch import nn

def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, {k}))
'''


def make_project(root: Path, classes: tuple[str, ...] = ("ant", "bee"), outputs: int = 2,
                 per_class: int = 3) -> Path:
    """A user's repository: a model file, an image folder and a suite, all relative."""
    (root / "models").mkdir(parents=True)
    (root / "models" / "net.py").write_text(NET.format(k=outputs))
    rng = np.random.default_rng(0)
    for name in classes:
        (root / "data" / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "data" / name / f"{i}.png")
    return root


def write_suite(root: Path, model_table: str, data_table: str = 'root = "data"',
                task: str = 'kind = "robustness"\nattack = "fgsm"\neps = [0.0, 0.1]\nn = 4'
                ) -> Path:
    path = root / "audit.toml"
    path.write_text(f'name = "mine"\nseed = 3\n\n[models.net]\n{model_table}\n\n'
                    f'[data.pics]\n{data_table}\n\n[[task]]\nmodel = "net"\n{task}\n')
    return path


BASE = 'source = "models/net.py:build"\ninput_size = 16\ndata = "pics"'


def test_relative_paths_resolve_against_the_suite_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path / "repo")
    monkeypatch.chdir(tmp_path)  # somewhere else: the suite's own folder must count
    suite = load_suite(write_suite(root, BASE))
    definition = suite.definitions.models["net"]
    assert definition.source == f"{(root / 'models' / 'net.py').resolve()}:build"
    assert suite.definitions.data["pics"].root == str((root / "data").resolve())
    (job,) = suite.jobs
    assert job.params["model"] == "net" and job.params["dataset"] == "pics"


def test_editing_the_definition_changes_the_job_id(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    first = load_suite(write_suite(root, BASE)).jobs[0].id
    again = load_suite(write_suite(root, BASE)).jobs[0].id
    changed = load_suite(write_suite(root, BASE + "\nmean = [0.5, 0.5, 0.5]")).jobs[0].id
    sampled = load_suite(write_suite(root, BASE, 'root = "data"\nper_class = 2')).jobs[0].id
    assert first == again
    assert len({first, changed, sampled}) == 3


@pytest.mark.parametrize(("model_table", "data_table", "message"), [
    ('source = "models/net.py:build"\ncolour = 1', 'root = "data"', "unknown key 'colour'"),
    ('input_size = 16', 'root = "data"', "missing required key 'source'"),
    ('source = "models/gone.py:build"', 'root = "data"', "source not found"),
    (BASE + '\nweights = "w.pt"', 'root = "data"', "weights not found"),
    (BASE, 'root = "nowhere"', "root not found"),
    (BASE, 'root = "data"\nper_class = 0', "per_class must be a positive integer"),
    (BASE.replace('"pics"', '"other"'), 'root = "data"', "names no [data.*] table"),
    (BASE + "\neps_linf = -1", 'root = "data"', "eps_linf must be a positive number"),
    (BASE.replace("16", "[3, 16]"), 'root = "data"', "input_size must be"),
])
def test_bad_tables_name_the_table_and_key(tmp_path: Path, model_table: str, data_table: str,
                                           message: str) -> None:
    root = make_project(tmp_path)
    with pytest.raises(SuiteError, match="models.net|data.pics") as err:
        load_suite(write_suite(root, model_table, data_table))
    assert message in str(err.value)


def test_a_table_cannot_shadow_a_shipped_model(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    path = root / "s.toml"
    path.write_text('[models.mnist_cnn]\nsource = "models/net.py:build"\n\n'
                    '[[task]]\nkind = "toy"\neps = 0.5\n')
    with pytest.raises(SuiteError, match="shadows the shipped model"):
        load_suite(path)


def test_a_table_cannot_shadow_a_shipped_dataset(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    path = root / "s.toml"
    path.write_text('[data.shapes]\nroot = "data"\n\n[[task]]\nkind = "toy"\neps = 0.5\n')
    with pytest.raises(SuiteError, match="shadows the shipped dataset 'shapes'"):
        load_suite(path)


def test_task_weights_for_a_declared_model_are_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    task = 'kind = "robustness"\nattack = "fgsm"\neps = [0.0]\nn = 4\nweights = "x.pt"'
    with pytest.raises(SuiteError, match=r"give its weights there"):
        load_suite(write_suite(root, BASE, task=task))


def test_context_reads_the_folder_at_the_models_size_with_its_names(tmp_path: Path) -> None:
    root = make_project(tmp_path, per_class=4)
    suite = load_suite(write_suite(root, BASE, 'root = "data"\nper_class = 3'))
    ctx = RunContext(torch.device("cpu"), definitions=suite.definitions, seed=suite.seed)
    x, y = ctx.dataset("pics")  # loads the model first, then the folder at its size
    assert x.shape == (6, 3, 16, 16) and y.tolist() == [0, 0, 0, 1, 1, 1]
    model = ctx.model("net")
    assert model.name == "net" and ctx.class_names(model) == ["ant", "bee"]
    assert model.class_names == ["0", "1"]  # the model itself is left as it was loaded
    assert ctx.data_info["pics"]["images"] == 6
    # one file per class left out by the sample: counted, not listed as a problem
    assert ctx.data_info["pics"]["skipped"] == []
    assert ctx.data_info["pics"]["not_sampled"] == 2


def test_folder_names_among_the_models_classes_follow_its_indices(tmp_path: Path) -> None:
    """A folder of some of the model's classes: labels are the model's indices."""
    root = make_project(tmp_path, classes=("bee", "wasp"), outputs=4)
    names = root / "names.txt"
    names.write_text("ant\nbee\nfly\nwasp\n")
    suite = load_suite(write_suite(root, BASE + '\nclass_names = "names.txt"'))
    ctx = RunContext(torch.device("cpu"), definitions=suite.definitions)
    _, y = ctx.dataset("pics")
    assert sorted(set(y.tolist())) == [1, 3]
    assert ctx.model("net").class_names == ["ant", "bee", "fly", "wasp"]


def test_folder_with_another_class_count_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path, classes=("a", "b", "c"), outputs=2)
    suite = load_suite(write_suite(root, BASE))
    ctx = RunContext(torch.device("cpu"), definitions=suite.definitions)
    with pytest.raises(ValueError, match=r"has 3 classes \(a, b, c\) but model 'net' has 2"):
        ctx.dataset("pics")


def test_standard_eps_by_kind_of_data() -> None:
    assert standard_eps("mnist5k", (1, 28, 28))[0] == {"linf": 0.3, "l2": 2.0}
    assert standard_eps("mine", (3, 32, 32))[0] == {"linf": 8 / 255, "l2": 0.5}
    assert standard_eps("photos", (3, 224, 224))[0] == {"linf": 4 / 255, "l2": 3.0}


def test_the_written_audit_suite_parses_back(tmp_path: Path) -> None:
    tasks = audit_tasks("net", side=32, num_classes=3, threat={"linf": 8 / 255, "l2": 0.5},
                        quick=True)
    text = audit_suite_text(name="net-audit", seed=0, model="net",
                            model_table={"source": "x.py:build", "data": "images",
                                         "mean": [0.5, 0.25, 0.125], "weights": None},
                            data_table={"root": "d \"quoted\" \\ path"}, tasks=tasks,
                            command="auditbench run --model x.py:build")
    raw = tomllib.loads(text)
    assert raw["models"]["net"] == {"source": "x.py:build", "data": "images",
                                    "mean": [0.5, 0.25, 0.125]}
    assert raw["data"]["images"]["root"] == 'd "quoted" \\ path'
    assert [t["kind"] for t in raw["task"]] == [t["kind"] for t in tasks]
    robust = raw["task"][4]
    assert robust["eps"] == [0.0, 4 / 255, 8 / 255]  # floats survive the round trip exactly
    without_layers = audit_tasks("net", side=32, num_classes=3, quick=True, layered=False,
                                 threat={"linf": 0.1, "l2": 1.0})
    assert "representation" not in {t["kind"] for t in without_layers}


def test_quick_samples_follow_the_image_side() -> None:
    threat = {"linf": 4 / 255, "l2": 3.0}
    sizes = {side: {t["kind"]: t.get("n") for t in audit_tasks(
        "net", side=side, num_classes=1000, threat=threat, quick=True)} for side in (32, 224)}
    # sized for small images: at 32 px the template's counts; at 224 px about 12x fewer
    # pixels' worth each, but at least 8 images (or the template's own count when smaller)
    assert sizes[32]["representation"] == 100 and sizes[224]["representation"] == 9
    assert sizes[32]["quality"] == 8 and sizes[224]["quality"] == 8
    assert sizes[32]["attribution"] == 3 and sizes[224]["attribution"] == 3
    assert sizes[224]["robustness"] == 8 and sizes[224]["sanity"] == 8
    assert quick_count(100, 128) == 25 and quick_count(100, 64) == 100
    full = {t["kind"]: t.get("n") for t in audit_tasks("net", side=224, num_classes=10,
                                                         threat=threat, quick=False)}
    assert full["representation"] == 500  # the full audit keeps its samples


@pytest.mark.parametrize(("spec", "key"), [
    ("models/net.py:build", "net_build"), ("models/net.py:small", "net_small"),
    ("pkg.models:resnet50", "resnet50"),
    ("exports/model-v2.pt2", "model-v2"), ("tv:resnet18", "resnet18"),
    ("mnist_cnn", "mnist_cnn_user"), ("2024.pt", "m_2024"),
])
def test_model_key(spec: str, key: str) -> None:
    assert model_key(spec) == key


def test_toml_value_escapes_and_refuses() -> None:
    assert toml_value("a\tb") == '"a\\u0009b"'
    assert toml_value([1, 2.5, True]) == "[1, 2.5, true]"
    with pytest.raises(ValueError):
        toml_value(float("nan"))
    with pytest.raises(TypeError):
        toml_value(nn.Linear(1, 1))


def test_other_names_of_the_same_count_are_taken_in_order_with_a_note(tmp_path: Path) -> None:
    root = make_project(tmp_path, classes=("ant", "bee"), outputs=2)
    (root / "names.json").write_text('["hymenoptera-1", "hymenoptera-2"]')
    suite = load_suite(write_suite(root, BASE + '\nclass_names = "names.json"'))
    ctx = RunContext(torch.device("cpu"), definitions=suite.definitions)
    _, y = ctx.dataset("pics")
    assert y.tolist() == [0, 0, 0, 1, 1, 1]
    assert ctx.model("net").class_names == ["hymenoptera-1", "hymenoptera-2"]
    (note,) = ctx.data_info["pics"]["notes"]
    assert "folder class i is taken as output i" in note


def test_a_task_naming_a_factory_directly_points_to_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[[task]]\nkind = "robustness"\nmodel = "net.py:build"\nattack = "fgsm"\n'
                    'eps = [0.0]\nn = 4\n')
    with pytest.raises(SuiteError, match=r"declare it in a \[models.NAME\] table"):
        load_suite(path)


def test_random_weights_only_for_named_architectures(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    with pytest.raises(SuiteError, match="is for tv:<arch> and shipped models"):
        load_suite(write_suite(root, BASE + '\nweights = "random"'))
    path = root / "tv.toml"
    path.write_text('[models.rn]\nsource = "tv:resnet18"\nweights = "random"\n\n'
                    '[[task]]\nkind = "robustness"\nmodel = "rn"\nattack = "fgsm"\n'
                    'eps = [0.0]\nn = 2\n')
    suite = load_suite(path)
    assert suite.definitions.models["rn"].weights == "random"
    assert suite.jobs[0].params["dataset"] == "photos"
    model = RunContext(torch.device("cpu"), definitions=suite.definitions).model("rn")
    assert model.random_weights and model.label == "rn (random weights)"


def test_random_weights_of_a_table_follow_its_name_and_the_suite_seed(tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    path.write_text("".join(f'[models.{k}]\nsource = "mnist_cnn"\nweights = "random"\n\n'
                            for k in ("a", "b"))
                    + '[[task]]\nkind = "toy"\neps = 0.5\n')
    defs = load_suite(path).definitions

    def first(name: str, seed: int) -> torch.Tensor:
        model = RunContext(torch.device("cpu"), definitions=defs, seed=seed).model(name)
        return model.net.state_dict()[next(iter(model.net.state_dict()))]

    assert torch.equal(first("a", 0), first("a", 0))
    assert not torch.equal(first("a", 0), first("b", 0))  # one architecture, two names
    assert not torch.equal(first("a", 0), first("a", 3))


def test_a_folder_too_big_for_memory_asks_for_a_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.user_assets as user_assets

    root = make_project(tmp_path, per_class=3)
    # 6 images of 3x16x16 float32 are 18 KiB: a 16 KiB limit stands in for 4 GiB
    monkeypatch.setattr(user_assets, "MAX_FOLDER_BYTES", 16 * 1024)
    suite = load_suite(write_suite(root, BASE))
    ctx = RunContext(torch.device("cpu"), definitions=suite.definitions)
    with pytest.raises(ValueError, match=r"6 images at \(3, 16, 16\) would take .* give "
                                         r"per_class"):
        ctx.dataset("pics")
    sampled = load_suite(write_suite(root, BASE, 'root = "data"\nper_class = 3'))
    x, _ = RunContext(torch.device("cpu"), definitions=sampled.definitions).dataset("pics")
    assert len(x) == 6  # with a sample the same folder loads


def test_torchvision_architecture_with_a_weights_file(tmp_path: Path) -> None:
    import torchvision.models as tvm

    torch.manual_seed(0)
    weights = tmp_path / "resnet18-mine.pth"
    torch.save(tvm.resnet18().state_dict(), weights)
    path = tmp_path / "tv.toml"
    path.write_text('[models.rn]\nsource = "tv:resnet18"\nweights = "resnet18-mine.pth"\n\n'
                    '[[task]]\nkind = "robustness"\nmodel = "rn"\nattack = "fgsm"\n'
                    'eps = [0.0]\nn = 2\n')
    suite = load_suite(path)
    model = RunContext(torch.device("cpu"), definitions=suite.definitions).model("rn")
    assert model.weights == str(weights.resolve()) and not model.random_weights
    assert model.source == "tv:resnet18" and model.class_names[0] == "tench"
    expected = tvm.resnet18()
    expected.load_state_dict(torch.load(weights, weights_only=True))
    assert torch.equal(model.net.fc.weight, expected.fc.weight)


def test_flat_folder_with_a_labels_csv_relative_to_the_suite(tmp_path: Path) -> None:
    root = make_project(tmp_path, classes=())
    flat = root / "data"
    flat.mkdir()
    rng = np.random.default_rng(1)
    rows = ["file,label"]
    for i, label in enumerate(["bee", "ant", "bee", "ant", "ant"]):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(flat / f"{i}.png")
        rows.append(f"{i}.png,{label}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    suite = load_suite(write_suite(root, BASE, 'root = "data"\nlabels_csv = "labels.csv"'))
    ctx = RunContext(torch.device("cpu"), definitions=suite.definitions)
    x, y = ctx.dataset("pics")
    # classes are the sorted names; images come class by class, files sorted within each
    assert ctx.class_names(ctx.model("net")) == ["ant", "bee"]
    assert y.tolist() == [0, 0, 0, 1, 1] and x.shape == (5, 3, 16, 16)


def test_two_models_share_a_folder_only_at_one_size(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    path = root / "two.toml"
    tables = "\n".join(
        f'[models.{name}]\nsource = "models/net.py:build"\ninput_size = {side}\n'
        f'data = "pics"\n' for name, side in (("a", 16), ("b", 16), ("c", 24)))
    path.write_text(f'{tables}\n[data.pics]\nroot = "data"\n\n[[task]]\nkind = "robustness"\n'
                    'model = ["a", "b", "c"]\nattack = "fgsm"\neps = [0.0]\nn = 2\n')
    suite = load_suite(path)
    ctx = RunContext(torch.device("cpu"), definitions=suite.definitions)
    assert ctx.class_names(ctx.model("a")) == ctx.class_names(ctx.model("b")) == ["ant", "bee"]
    with pytest.raises(ValueError, match=r"was read at \(3, 16, 16\) for another model, but "
                                         r"'c' takes \(3, 24, 24\)"):
        ctx.model("c")
