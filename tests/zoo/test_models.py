from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

import zoo
from bench.train import accuracy
from zoo.checkpoint import file_sha256, read_state_dict
from zoo.errors import UnknownNameError, UserError

README = Path(__file__).resolve().parents[2] / "README.md"
SHIPPED = ("mnist_logreg", "mnist_cnn", "mnist_cnn_at", "shapes_cnn")


def readme_accuracy(name: str) -> float:
    """The clean test accuracy the README's model table states for ``name``, in [0, 1]."""
    pattern = rf"^\| `{re.escape(name)}` \|[^|]*\| (\d+\.\d)% \|"
    match = re.search(pattern, README.read_text(), flags=re.MULTILINE)
    assert match, f"README.md has no model-table row with an accuracy for {name}"
    return float(match.group(1)) / 100


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_accuracy_matches_readme(name: str) -> None:
    x, y = zoo.load_dataset(zoo.model_spec(name).dataset, "test")
    measured = accuracy(zoo.load_model(name), x, y)
    assert measured == pytest.approx(readme_accuracy(name), abs=0.0005)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_contract(name: str) -> None:
    model, spec = zoo.load_model(name), zoo.model_spec(name)
    assert isinstance(model, zoo.Classifier) and not model.training
    x, _ = zoo.load_dataset(spec.dataset, "test")
    assert model.input_shape == tuple(x.shape[1:]) == spec.input_shape
    assert model.num_classes == zoo.DATASETS[spec.dataset].num_classes
    assert model.class_names == list(zoo.DATASETS[spec.dataset].class_names)
    assert model.label == name and not model.random_weights
    out = model(x[:3])
    assert out.shape == (3, model.num_classes) and torch.isfinite(out).all()
    weights = Path(model.weights)
    assert weights.stat().st_size < 2_500_000  # small state-dict files, fit in the repo
    assert len(file_sha256(weights)) == 64


def test_registry_lists_models_and_rejects_unknown() -> None:
    assert {"mnist_logreg", "mnist_cnn", "mnist_cnn_at", "tv:<arch>"} <= set(zoo.list_models())
    with pytest.raises(UnknownNameError, match="unknown model 'mnist_mlp'"):
        zoo.load_model("mnist_mlp")
    with pytest.raises(UnknownNameError, match=r"unknown torchvision classifier 'resnet7' "
                       r"\(did you mean 'resnet\d+'\?\); e.g. resnet18"):
        zoo.load_model("tv:resnet7", weights="random")
    with pytest.raises(ValueError, match="already registered"):
        zoo.register_model(zoo.model_spec("mnist_cnn"))


def test_random_weights_are_labelled() -> None:
    model = zoo.load_model("mnist_cnn", weights="random")
    assert model.random_weights and model.label == "mnist_cnn (random weights)"


def test_torchvision_missing_weights_names_expected_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        zoo.load_model("tv:resnet18")
    expected = tmp_path / "checkpoints" / "resnet18-f37072fd.pth"
    assert str(expected) in str(info.value) and "weights='random'" in str(info.value)


def test_torchvision_weights_from_file_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    random = zoo.load_model("tv:resnet18", weights="random")
    assert random.label == "tv:resnet18 (random weights)" and random.num_classes == 1000
    assert random.input_shape == (3, 224, 224) and random.class_names[281] == "tabby"
    path = tmp_path / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir()
    torch.save(random.net.state_dict(), path)
    from_file = zoo.load_model("tv:resnet18", weights=path)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    from_cache = zoo.load_model("tv:resnet18")
    assert not from_cache.random_weights and from_cache.label == "tv:resnet18"
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(from_file(x), random(x), rtol=0, atol=0)
    torch.testing.assert_close(from_cache(x), random(x), rtol=0, atol=0)


def test_corrupt_and_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError, match="garbage.pt is not a PyTorch checkpoint"):
        zoo.load_model("mnist_cnn", weights=garbage)

    class Payload:  # an arbitrary pickled object must never be unpickled
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("unpickled!",))

    pickled = tmp_path / "pickle.pt"
    torch.save({"net": Payload()}, pickled)
    with pytest.raises(UserError, match=r"holds pickled objects \((builtins\.)?print\), which "
                       r"auditbench never unpickles \(weights_only=True\)") as refused:
        read_state_dict(pickled)
    assert "\n" not in str(refused.value)

    not_tensors = tmp_path / "list.pt"
    torch.save([1, 2, 3], not_tensors)
    with pytest.raises(UserError, match="holds a list, not a state dict"):
        zoo.load_model("mnist_cnn", weights=not_tensors)

    with pytest.raises(FileNotFoundError, match="missing.pt") as missing:
        zoo.load_model("mnist_cnn", weights=tmp_path / "missing.pt")
    assert isinstance(missing.value, UserError)


def test_mismatched_weights_name_the_first_bad_key(tmp_path: Path) -> None:
    logreg = tmp_path / "logreg.pt"
    torch.save(zoo.load_model("mnist_logreg").net.state_dict(), logreg)
    with pytest.raises(UserError, match=r"missing key '0.weight' \(8 missing, 2 unexpected\): "
                       r"missing '0.weight', '0.bias', '3.weight' and 5 more; unexpected "
                       r"'1.weight', '1.bias'; "):
        zoo.load_model("mnist_cnn", weights=logreg)
    wrong_shape = tmp_path / "shape.pt"
    state = zoo.load_model("mnist_logreg").net.state_dict()
    state["1.weight"] = torch.zeros(10, 100)
    torch.save(state, wrong_shape)
    with pytest.raises(ValueError, match=r"'1.weight' has shape \(10, 100\)"):
        zoo.load_model("mnist_logreg", weights=wrong_shape)


def test_wrapped_state_dict_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.pt"
    torch.save({"state_dict": zoo.load_model("mnist_logreg").net.state_dict(), "epoch": 3}, path)
    model = zoo.load_model("mnist_logreg", weights=path)
    assert isinstance(model, nn.Module)


def test_random_weights_are_the_same_network_every_time_and_leave_the_global_rng() -> None:
    # a random-weight model is compared across runs and resumed: it must not depend on the
    # global RNG (it did: two processes stress-tested two different ResNets)
    state = torch.random.get_rng_state()
    first = zoo.load_model("tv:resnet18", weights="random")
    torch.manual_seed(123)  # whatever the caller's RNG holds
    second = zoo.load_model("tv:resnet18", weights="random")
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    torch.random.set_rng_state(state)
    zoo.load_model("mnist_cnn", weights="random")
    assert torch.equal(torch.random.get_rng_state(), state)  # restored, not reseeded


def test_random_weights_come_from_the_seed_and_leave_the_callers_rng_alone() -> None:
    load_model = zoo.load_model
    state = torch.random.get_rng_state()
    a = load_model("tv:squeezenet1_1", "random", seed=7).state_dict()
    b = load_model("tv:squeezenet1_1", "random", seed=7).state_dict()
    c = load_model("tv:squeezenet1_1", "random", seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    shipped = load_model("mnist_cnn", "random", seed=7).state_dict()
    assert not all(torch.equal(v, load_model("mnist_cnn", "random").state_dict()[k])
                   for k, v in shipped.items())
    # a missing ImageNet file is found before the network is built: nothing drawn either
    with pytest.raises(FileNotFoundError, match="no ImageNet weights"):
        load_model("tv:squeezenet1_1", "/nonexistent/squeezenet.pth")
    assert torch.equal(torch.random.get_rng_state(), state)
