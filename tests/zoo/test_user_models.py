"""Bring your own model: factories, files, exported programs and TorchScript via zoo.load_model."""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path

import pytest
import torch

import zoo
from attacks import fgsm
from attribution import saliency

FACTORY_SOURCE = '''
import torch
from torch import nn


def make():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Linear(16, 5),
    )


def make_softmax():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4), nn.Softmax(dim=1))


def make_flat():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 1), nn.Flatten(0))


def make_int():
    return 3


def make_raises():
    raise RuntimeError("no GPU here")


class Features(nn.Module):
    """make()'s network returning (logits, features), as many research models do."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        features = self.body(x)
        return self.head(features), features


class AsDict(Features):
    def forward(self, x):
        logits, features = super().forward(x)
        return {"features": features, "logits": logits}


class Output:
    def __init__(self, logits, hidden):
        self.logits, self.hidden = logits, hidden


class AsObject(Features):
    def forward(self, x):
        return Output(*super().forward(x))


def make_tuple():
    return Features()


def make_dict():
    return AsDict()


def make_object():
    return AsObject()
'''


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.py"
    path.write_text(FACTORY_SOURCE)
    return path


def _mnist_reference() -> tuple[zoo.Classifier, torch.Tensor, dict[str, tuple[float, ...]]]:
    shipped = zoo.load_model("mnist_cnn")
    x, _ = zoo.load_dataset("mnist5k", "test")
    stats = {
        "mean": tuple(shipped.normalize.mean.flatten().tolist()),
        "std": tuple(shipped.normalize.std.flatten().tolist()),
    }
    return shipped, x[:8], stats


def test_file_factory_with_and_without_weights(model_file: Path, tmp_path: Path) -> None:
    spec = f"{model_file}:make"
    model = zoo.load_model(spec, input_size=8)
    assert isinstance(model, zoo.Classifier) and not model.training
    assert model.name == spec and model.num_classes == 5 and model.input_shape == (3, 8, 8)
    assert not model.outputs_probabilities and model.class_names == [str(i) for i in range(5)]
    weights = tmp_path / "w.pt"
    torch.save(model.net.state_dict(), weights)
    again = zoo.load_model(spec, weights=weights, input_size=8, class_names=list("abcde"))
    x = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
    assert again.class_names == list("abcde") and again.weights == str(weights)
    state = model.net.state_dict()
    state["4.weight"] = torch.zeros(5, 7)
    torch.save(state, weights)
    with pytest.raises(ValueError, match=r"'4.weight' has shape \(5, 7\)"):
        zoo.load_model(spec, weights=weights, input_size=8)
    torch.save({"0.weight": state["0.weight"]}, weights)
    with pytest.raises(ValueError, match="missing key '0.bias'"):
        zoo.load_model(spec, weights=weights, input_size=8)


def test_module_path_factory(
    model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"user_model_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(model_file.read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    model = zoo.load_model(f"{name}:make", input_size=(3, 8, 8), mean=(0.5,) * 3, std=(0.25,) * 3)
    assert model.num_classes == 5 and model.name == f"{name}:make"
    torch.testing.assert_close(model.normalize.std.flatten(), torch.full((3,), 0.25))
    weights = tmp_path / "w.pt"
    torch.save(model.net.state_dict(), weights)
    again = zoo.load_model(f"{name}:make", weights, input_size=8, mean=(0.5,) * 3, std=(0.25,) * 3)
    x = torch.rand(3, 3, 8, 8)
    torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:FutureWarning")
def test_torchscript_matches_shipped_model(tmp_path: Path) -> None:
    shipped, x, stats = _mnist_reference()
    path = tmp_path / "mnist.pt"
    try:
        torch.jit.save(torch.jit.script(shipped.net), str(path))
    except Exception as err:  # pragma: no cover - depends on the torch build
        pytest.skip(f"TorchScript saving unavailable in torch {torch.__version__}: {err}")
    model = zoo.load_model(str(path), input_size=28, **stats)
    assert model.input_shape == (1, 28, 28) and model.num_classes == 10
    torch.testing.assert_close(model(x), shipped(x), rtol=0, atol=1e-5)


def test_exported_program_matches_shipped_model(tmp_path: Path) -> None:
    shipped, x, stats = _mnist_reference()
    path = tmp_path / "mnist.pt2"
    batch = torch.export.Dim("batch", min=1, max=4096)
    try:
        program = torch.export.export(shipped.net, (x,), dynamic_shapes=({0: batch},))
        torch.export.save(program, path)
    except Exception as err:  # pragma: no cover - depends on the torch build
        pytest.skip(f"torch.export unavailable in torch {torch.__version__}: {err}")
    model = zoo.load_model(str(path), input_size=28, **stats)
    assert model.num_classes == 10 and not model.training
    torch.testing.assert_close(model(x), shipped(x), rtol=0, atol=1e-5)
    model.train()
    model.eval()  # an exported module refuses train()/eval(); the wrapper must not
    with pytest.raises(ValueError, match="weights= is only for factory specs"):
        zoo.load_model(str(path), weights=tmp_path / "w.pt", input_size=28)


def test_state_dict_file_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "sd.pt"
    torch.save(zoo.load_model("mnist_logreg").net.state_dict(), path)
    with pytest.raises(ValueError, match="holds a state dict, not a model"):
        zoo.load_model(str(path), input_size=28)


def test_bad_specs_are_clear_errors(model_file: Path, tmp_path: Path) -> None:
    spec = f"{model_file}:make"
    with pytest.raises(ValueError, match="factory make_raises raised: RuntimeError: no GPU"):
        zoo.load_model(f"{model_file}:make_raises", input_size=8)
    with pytest.raises(ValueError, match="make_int returned int, not a torch.nn.Module"):
        zoo.load_model(f"{model_file}:make_int", input_size=8)
    with pytest.raises(FileNotFoundError, match="file not found: .*nowhere.py"):
        zoo.load_model(f"{tmp_path}/nowhere.py:make", input_size=8)
    with pytest.raises(FileNotFoundError, match="model file not found"):
        zoo.load_model(str(tmp_path / "missing.pt2"), input_size=8)
    with pytest.raises(ImportError, match="has no attribute 'build'"):
        zoo.load_model(f"{model_file}:build", input_size=8)
    with pytest.raises(ImportError, match="cannot import module 'no_such_module_xyz'"):
        zoo.load_model("no_such_module_xyz:make", input_size=8)
    with pytest.raises(ValueError, match="mean and std need 3 values"):
        zoo.load_model(spec, input_size=(3, 8, 8), mean=(0.5,), std=(0.2,))
    with pytest.raises(ValueError, match="std must be positive"):
        zoo.load_model(spec, input_size=8, mean=(0.5,) * 3, std=(0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match=r"must output \(N, K\).* returned \(2,\)"):
        zoo.load_model(f"{model_file}:make_flat", input_size=8)
    with pytest.raises(ValueError, match="pass input_size"):
        zoo.load_model(spec)
    with pytest.raises(ValueError, match="class_names has 2 names"):
        zoo.load_model(spec, input_size=8, class_names=["a", "b"])
    with pytest.raises(ValueError, match="are for user models"):
        zoo.load_model("mnist_cnn", input_size=28)


def test_probability_outputs_are_flagged(model_file: Path) -> None:
    with pytest.warns(UserWarning, match="attacks and attributions on softmax outputs are weaker"):
        model = zoo.load_model(f"{model_file}:make_softmax", input_size=8)
    assert model.outputs_probabilities is True and model.num_classes == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logits = zoo.load_model(f"{model_file}:make", input_size=8)
    assert logits.outputs_probabilities is False
    assert zoo.load_model("mnist_logreg").outputs_probabilities is False


def test_split_modules_keep_their_import_paths() -> None:
    from zoo.user_archive import ExportedNet
    from zoo.user_models import ExportedNet as reexported
    from zoo.user_models import UserModelError, is_user_spec

    assert reexported is ExportedNet and issubclass(UserModelError, ValueError)
    assert is_user_spec("pkg.mod:make") and not is_user_spec("tv:resnet18")


def test_declared_input_shape_and_methods_run(model_file: Path) -> None:
    model_file.write_text(model_file.read_text() + (
        "\n\ndef make_declared():\n    net = make()\n    net.input_shape = (3, 8, 8)\n"
        "    return net\n"
    ))
    model = zoo.load_model(f"{model_file}:make_declared")
    assert model.input_shape == (3, 8, 8) and model.num_classes == 5
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 3])
    adv = fgsm(model, x, y, eps=0.1)
    assert adv.shape == x.shape and (adv - x).abs().max() <= 0.1 + 1e-6
    grad = saliency(model, x, y)
    assert grad.shape == x.shape and torch.isfinite(grad).all()


STRUCTURED = [
    ("make_tuple", 0, r"returns a tuple of 2: \(Tensor\(2, 5\), Tensor\(2, 16\)\).*output=0: "
     r"--output 0 on the command line"),
    ("make_dict", "logits", r"returns a dict of 2: \{'features': Tensor\(2, 16\), 'logits': "
     r"Tensor\(2, 5\)\}.*output='logits' \(its keys: 'features', 'logits'\): --output logits"),
    ("make_object", "logits", r"returns an Output with \.logits Tensor\(2, 5\), \.hidden "
     r"Tensor\(2, 16\).*output='logits': --output logits"),
]


@pytest.mark.parametrize(("factory", "output", "message"), STRUCTURED,
                         ids=[f for f, _, _ in STRUCTURED])
def test_structured_outputs_are_picked_inside_the_wrapper(
    model_file: Path, factory: str, output: int | str, message: str
) -> None:
    spec = f"{model_file}:{factory}"
    with pytest.raises(ValueError, match=message):
        zoo.load_model(spec, input_size=8)  # the structure is named, and the fix
    model = zoo.load_model(spec, input_size=8, output=output)
    assert model.num_classes == 5 and model.output == output
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        logits = model(x)
        expected = model.net.head(model.net.body(model.normalize(x)))
    torch.testing.assert_close(logits, expected, rtol=0, atol=0)
    adv = fgsm(model, x, y, eps=0.1)  # every method sees plain logits
    assert adv.shape == x.shape and (adv - x).abs().max() <= 0.1 + 1e-6
    grad = saliency(model, x, y)
    assert grad.shape == x.shape and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_a_wrong_output_is_a_clear_error(model_file: Path) -> None:
    tuple_spec, dict_spec = f"{model_file}:make_tuple", f"{model_file}:make_dict"
    with pytest.raises(ValueError, match=r"output=2 is out of range: the model returns a "
                                         r"tuple of 2: \(Tensor\(2, 5\), Tensor\(2, 16\)\)"):
        zoo.load_model(tuple_spec, input_size=8, output=2)
    with pytest.raises(ValueError, match=r"output='logit' is not a key of what the model "
                                         r"returns: .*keys: 'features', 'logits'"):
        zoo.load_model(dict_spec, input_size=8, output="logit")
    with pytest.raises(ValueError, match="output=0 is not a key of what the model returns: "
                                         "a dict of 2"):
        zoo.load_model(dict_spec, input_size=8, output=0)
    with pytest.raises(ValueError, match="output='count' names no key or attribute"):
        zoo.load_model(tuple_spec, input_size=8, output="count")  # not tuple.count
    with pytest.raises(ValueError, match=r"output=0 takes an item .* returns Tensor\(2, 5\)"):
        zoo.load_model(f"{model_file}:make", input_size=8, output=0)
    with pytest.raises(ValueError, match="output must be an index"):
        zoo.load_model(tuple_spec, input_size=8, output=True)
    with pytest.raises(ValueError, match="output must be an index"):
        zoo.load_model(tuple_spec, input_size=8, output="")
    with pytest.raises(ValueError, match=r"returned \(its output=1\) \(2, 16, 1\)"):
        model_file.write_text(model_file.read_text() + (
            "\n\ndef make_3d():\n    net = make_tuple()\n    net.forward = lambda x: ("
            "net.head(net.body(x)), net.body(x)[..., None])\n    return net\n"))
        zoo.load_model(f"{model_file}:make_3d", input_size=8, output=1)
    with pytest.raises(ValueError, match="are for user models"):
        zoo.load_model("mnist_cnn", output=0)
    # and a Classifier built by hand checks it too
    with pytest.raises(ValueError, match="output must be an index"):
        zoo.Classifier(torch.nn.Identity(), mean=(0.0,), std=(1.0,), num_classes=2,
                       input_shape=(1, 2, 2), name="x", output=1.5)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:FutureWarning")
def test_torchscript_and_exported_tuples_are_picked(model_file: Path, tmp_path: Path) -> None:
    factory = zoo.load_model(f"{model_file}:make_tuple", input_size=8, output=0)
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = factory(x)
    scripted, exported = tmp_path / "net.pt", tmp_path / "net.pt2"
    batch = torch.export.Dim("batch", min=1, max=1024)
    try:
        torch.jit.save(torch.jit.script(factory.net), str(scripted))
        torch.export.save(torch.export.export(factory.net, (x,), dynamic_shapes=({0: batch},)),
                          exported)
    except Exception as err:  # pragma: no cover - depends on the torch build
        pytest.skip(f"TorchScript or torch.export unavailable in torch {torch.__version__}: {err}")
    for path in (scripted, exported):
        with pytest.raises(ValueError, match=r"returns a tuple of 2: .*--output 0"):
            zoo.load_model(str(path), input_size=8)
        model = zoo.load_model(str(path), input_size=8, output=0)
        assert model.num_classes == 5
        with torch.no_grad():
            torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-5)
        grad = saliency(model, x, torch.tensor([0, 1, 2]))
        assert grad.shape == x.shape and torch.isfinite(grad).all()


def test_every_bad_spec_is_a_user_error_of_one_line(model_file: Path, tmp_path: Path) -> None:
    """Each refusal is a UserError (the command line's one line, exit 2), still of the type
    it was before (FileNotFoundError, ImportError), and its message holds no line break."""
    from zoo.errors import UserError

    (tmp_path / "broken.py").write_text("raise RuntimeError('at import\\nline two')\n",
                                        encoding="utf-8")
    (tmp_path / "corrupt.ts").write_bytes(b"\x00 not TorchScript")
    cases = [
        (f"{model_file}:make_raises", ValueError, "factory make_raises raised"),
        (f"{tmp_path}/nowhere.py:make", FileNotFoundError, "file not found"),
        (str(tmp_path / "missing.ts"), FileNotFoundError, "model file not found"),
        (f"{model_file}:build", ImportError, "has no attribute 'build'"),
        ("no_such_module_xyz:make", ImportError, "cannot import module"),
        (f"{tmp_path}/broken.py:make", ImportError, "RuntimeError: at import line two"),
        (str(tmp_path / "corrupt.ts"), ValueError, "neither a TorchScript model nor"),
    ]
    for spec, old_type, fragment in cases:
        with pytest.raises(UserError, match=fragment) as err:
            zoo.load_model(spec, input_size=8)
        assert isinstance(err.value, old_type) and "\n" not in str(err.value), spec
