"""The table of bad inputs for ``test_bad_inputs``: one ``Case`` per input, through one door.

Doors: ``cli`` (``auditbench.cli.main`` in process), ``proc`` (the same through a real
``python -m auditbench``), ``suite`` (a TOML file, run both by the CLI and by
``auditbench.run_suite``) and ``api`` (a library call). ``setup(tmp)`` builds the input in a
fresh folder and returns the CLI's arguments, the suite file, or the call to make.
``fragment`` is a case-insensitive regular expression the one-line message must match: the
key, value or file it names. Every CLI and suite case is refused before the first job, so
none runs one (the smallest suites: one task, ``n = 2``, shipped MNIST models).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

OUT = "run"  # the run directory every CLI case names, relative to the case's folder


@dataclass(frozen=True)
class Case:
    id: str
    door: str  # cli | proc | suite | api
    setup: Callable[[Path], Any]
    fragment: str


# ---------------------------------------------------------------- files the cases are made of

TASK = 'kind = "robustness"\nmodel = "mnist_cnn"\nattack = "fgsm"\neps = [0.1]\nn = 2\n'


def suite_file(tmp: Path, body: str, name: str = "bad.toml") -> Path:
    path = tmp / name
    path.write_text(body, encoding="utf-8")
    return path


def task_suite(**changes: str | None) -> Callable[[Path], Path]:
    """A one-task suite with ``key = value`` lines replaced (None removes the key)."""
    def setup(tmp: Path) -> Path:
        lines = dict(line.split(" = ", 1) for line in TASK.splitlines())
        for key, value in changes.items():
            if value is None:
                lines.pop(key, None)
            else:
                lines[key] = value
        body = "\n".join(f"{k} = {v}" for k, v in lines.items())
        return suite_file(tmp, f'name = "bad"\n\n[[task]]\n{body}\n')
    return setup


def raw_suite(body: str) -> Callable[[Path], Path]:
    return lambda tmp: suite_file(tmp, body)


def text_file(tmp: Path, name: str = "notes.pt", text: str = "not a checkpoint\n") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def empty_file(tmp: Path, name: str = "empty.pt") -> Path:
    path = tmp / name
    path.write_bytes(b"")
    return path


def tensor_file(tmp: Path) -> Path:
    path = tmp / "tensor.pt"
    torch.save(torch.zeros(3), path)
    return path


def foreign_state(tmp: Path) -> Path:
    """A state dict of another architecture (a two-layer MLP, not mnist_logreg's)."""
    path = tmp / "mlp.pt"
    torch.save(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).state_dict(), path)
    return path


class Payload:
    """A custom class in a pickle: ``torch.load(weights_only=True)`` must refuse it."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("payload ran",))


def pickle_file(tmp: Path) -> Path:
    path = tmp / "custom.pt"
    with path.open("wb") as f:
        pickle.dump({"weight": Payload()}, f)
    return path


def store(tmp: Path, content: bytes) -> Path:
    run = tmp / "old"
    run.mkdir()
    (run / "results.sqlite").write_bytes(content)
    return run


def random_bytes_store(tmp: Path) -> Path:
    return store(tmp, bytes(torch.randint(0, 256, (4096,), generator=torch.Generator()
                                          .manual_seed(0), dtype=torch.uint8).tolist()))


def png_bytes() -> bytes:
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("L", (28, 28), 128).save(buf, format="PNG")
    return buf.getvalue()


def image_folder(tmp: Path, files: dict[str, bytes]) -> Path:
    root = tmp / "pics"
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def flat_with_labels(tmp: Path, labels: list[str]) -> list[str]:
    png = png_bytes()
    root = image_folder(tmp, {f"{i}.png": png for i in range(len(labels))})
    csv = tmp / "labels.csv"
    csv.write_text("file,label\n" + "".join(f"{i}.png,{v}\n" for i, v in enumerate(labels)),
                   encoding="utf-8")
    return ["--data", str(root), "--labels-csv", str(csv)]


def run_args(tmp: Path, *extra: str) -> list[str]:
    return ["run", *extra, "--out", str(tmp / OUT), "--no-report"]


def model_run(tmp: Path, *extra: str) -> list[str]:
    return run_args(tmp, "--model", "mnist_cnn", "--quick", *extra)


# ------------------------------------------------------------------- models the API cases use

class NoGradNet(nn.Module):
    """A classifier whose forward cuts the graph (``torch.no_grad`` inside): its output does
    not depend differentiably on its input."""

    num_classes = 10

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net(x)


class ThresholdNet(NoGradNet):
    """A thermometer-like encoding: the input is compared with 0.5 first, so the output has no
    gradient with respect to the input (zero, or none at all)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x > 0.5).to(x.dtype))


class SideBranchNet(NoGradNet):
    """A layer ``side`` that runs on the input but whose output is thrown away: it is not on
    the path to the logits, so Grad-CAM has nothing to read there."""

    def __init__(self) -> None:
        super().__init__()
        self.side = nn.Conv2d(1, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.side(x)
        return self.net(x)


def batch(n: int = 2, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0), dtype=dtype)
    return x, torch.arange(n) % 10


def shipped(name: str = "mnist_cnn") -> nn.Module:
    import zoo
    return zoo.load_model(name)


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[Path], Callable[[], Any]]:
    """A setup whose call is ``fn(*args, **kwargs)``."""
    return lambda tmp: lambda: fn(*args, **kwargs)


def load_with(weights: Callable[[Path], Path]) -> Callable[[Path], Callable[[], Any]]:
    """``zoo.load_model("mnist_logreg", weights=<the file weights(tmp) writes>)``."""
    def setup(tmp: Path) -> Callable[[], Any]:
        path = weights(tmp)
        return lambda: lazy("zoo.load_model")("mnist_logreg", weights=path)
    return setup


def attack(name: str, x: torch.Tensor | None = None, y: torch.Tensor | None = None,
           model: Callable[[], nn.Module] = shipped, **kwargs: Any) -> Callable[[Path], Any]:
    def setup(tmp: Path) -> Callable[[], Any]:
        import attacks
        bx, by = batch()
        net = model().eval()
        kw = {"eps": 0.1, **({"alpha": 0.05, "steps": 2} if name == "pgd" else {}), **kwargs}
        return lambda: getattr(attacks, name)(net, bx if x is None else x,
                                              by if y is None else y, **kw)
    return setup


def attribute(name: str, x: torch.Tensor | None = None, target: Any = None,
              model: Callable[[], nn.Module] = shipped, **kwargs: Any) -> Callable[[Path], Any]:
    def setup(tmp: Path) -> Callable[[], Any]:
        import attribution
        bx, by = batch()
        net = model().eval()
        return lambda: getattr(attribution, name)(net, bx if x is None else x,
                                                  by if target is None else target, **kwargs)
    return setup


def lazy(dotted: str) -> Callable[..., Any]:
    """``package.function`` imported when called (so collecting the table imports little)."""
    module, _, attr = dotted.rpartition(".")

    def fn(*args: Any, **kwargs: Any) -> Any:
        import importlib
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)
    return fn


X2 = batch()[0]


# ---------------------------------------------------------------------------------- the table

CASES: list[Case] = [
    # --- suite files: syntax, keys, types, values, names
    Case("suite-malformed-toml", "suite", raw_suite('name = "bad"\n[[task]\nkind = \n'), "toml"),
    Case("suite-top-key-misspelled", "suite",
         raw_suite('nmae = "bad"\n\n[[task]]\n' + TASK), r"nmae.*did you mean.*\bname\b"),
    Case("suite-task-key-misspelled", "suite", task_suite(stpes="5"),
         r"stpes.*did you mean.*\bsteps\b"),
    Case("suite-task-key-unknown", "suite", task_suite(colour='"red"'), "colour"),
    Case("suite-kind-misspelled", "suite", task_suite(kind='"robustnes"'),
         r"robustnes.*did you mean.*robustness"),
    Case("suite-kind-missing", "suite", task_suite(kind=None), r"\bkind\b"),
    Case("suite-model-unknown", "suite", task_suite(model='"mnist_cnnn"'),
         r"mnist_cnnn.*did you mean"),
    Case("suite-model-tv-unknown-arch", "suite", task_suite(model='"tv:resnet999"'), "resnet999"),
    Case("suite-attack-unknown", "suite", task_suite(attack='"pgdd"'), "pgdd"),
    Case("suite-attribution-method-unknown", "suite",
         raw_suite('name = "bad"\n[[task]]\nkind = "attribution"\nmodel = "mnist_cnn"\n'
                   'n = 2\nmethods = ["salency"]\n'), "salency"),
    Case("suite-dataset-unknown", "suite", task_suite(dataset='"mnist6k"'), "mnist6k"),
    Case("suite-n-wrong-type", "suite", task_suite(n='"two"'), "two"),
    Case("suite-eps-wrong-type", "suite", task_suite(eps='"big"'), "big"),
    Case("suite-seed-wrong-type", "suite", raw_suite('seed = "zero"\n[[task]]\n' + TASK), "seed"),
    Case("suite-eps-grid-empty", "suite", task_suite(eps="[]"), r"\beps\b"),
    Case("suite-eps-negative", "suite", task_suite(eps="[-0.1]"), r"-0\.1"),
    Case("suite-steps-zero", "suite", task_suite(attack='"pgd"', steps="0"), r"\bsteps\b"),
    Case("suite-n-zero", "suite", task_suite(n="0"), r"\bn\b"),
    Case("suite-norm-unknown", "suite", task_suite(norm='"l3"'), "l3"),
    Case("suite-no-tasks", "suite", raw_suite('name = "bad"\n'), r"\btask"),
    Case("suite-task-not-a-table", "suite", raw_suite('name = "bad"\ntask = 3\n'), r"\btask"),
    Case("suite-layer-not-in-model", "suite",
         raw_suite('name = "bad"\n[[task]]\nkind = "attribution"\nmodel = "mnist_cnn"\nn = 2\n'
                   'methods = ["grad_cam"]\nlayer = "net.99"\n'), r"net\.99"),
    Case("suite-fooling-classes-beyond-outputs", "suite",
         raw_suite('name = "bad"\n[[task]]\nkind = "fooling"\nmodel = "mnist_cnn"\nn = 2\n'
                   'classes = [0, 12]\neps = 0.3\nrel_alpha = 0.1\nsteps = 1\n'), r"\b12\b"),
    Case("suite-models-table-missing-source", "suite",
         raw_suite('name = "bad"\n[models.net]\nsource = "nofile.py:build"\n\n'
                   '[[task]]\n' + TASK.replace('"mnist_cnn"', '"net"')), r"nofile\.py"),
    Case("suite-models-table-text-weights", "suite",
         lambda tmp: (text_file(tmp, "w.pt"), suite_file(
             tmp, 'name = "bad"\n[models.net]\nsource = "mnist_logreg"\nweights = "w.pt"\n\n'
             '[[task]]\n' + TASK.replace('"mnist_cnn"', '"net"')))[1], r"w\.pt"),
    Case("suite-data-table-missing-root", "suite",
         raw_suite('name = "bad"\n[data.pics]\nroot = "nodir"\n\n[[task]]\n'
                   + TASK + 'dataset = "pics"\n'), "nodir"),
    # --- the command line: names, numbers, paths
    Case("cli-suite-unknown", "cli", lambda tmp: run_args(tmp, "--suite", "nosuchsuite"),
         "nosuchsuite"),
    Case("cli-suite-file-missing", "cli",
         lambda tmp: run_args(tmp, "--suite", str(tmp / "absent.toml")), r"absent\.toml"),
    Case("cli-model-unknown", "cli", lambda tmp: run_args(tmp, "--model", "mnist_cnnn"),
         r"mnist_cnnn.*did you mean"),
    Case("cli-model-tv-unknown", "cli", lambda tmp: run_args(tmp, "--model", "tv:notanarch"),
         "notanarch"),
    Case("cli-model-file-missing", "cli",
         lambda tmp: run_args(tmp, "--model", str(tmp / "nets.py") + ":build"), r"nets\.py"),
    Case("cli-threads-zero", "cli", lambda tmp: model_run(tmp, "--threads", "0"), "threads"),
    Case("cli-eps-linf-negative", "cli", lambda tmp: model_run(tmp, "--eps-linf", "-0.1"),
         r"eps.linf"),
    Case("cli-per-class-zero", "cli",
         lambda tmp: model_run(tmp, "--data", str(image_folder(tmp, {"0/a.png": png_bytes()})),
                               "--per-class", "0"), r"per.class"),
    Case("cli-class-names-missing", "cli",
         lambda tmp: model_run(tmp, "--class-names", str(tmp / "names.txt")), r"names\.txt"),
    Case("cli-weights-text", "cli",
         lambda tmp: run_args(tmp, "--model", "mnist_logreg", "--weights", str(text_file(tmp))),
         r"notes\.pt"),
    Case("cli-weights-zero-bytes", "cli",
         lambda tmp: run_args(tmp, "--model", "mnist_logreg", "--weights",
                              str(empty_file(tmp))), r"empty\.pt"),
    Case("cli-weights-a-tensor", "cli",
         lambda tmp: run_args(tmp, "--model", "mnist_logreg", "--weights",
                              str(tensor_file(tmp))), r"tensor\.pt"),
    Case("cli-weights-other-architecture", "cli",
         lambda tmp: run_args(tmp, "--model", "mnist_logreg", "--weights",
                              str(foreign_state(tmp))), r"mlp\.pt"),
    Case("cli-weights-custom-pickle", "cli",
         lambda tmp: run_args(tmp, "--model", "mnist_logreg", "--weights",
                              str(pickle_file(tmp))), r"custom\.pt"),
    Case("cli-weights-missing", "cli",
         lambda tmp: run_args(tmp, "--model", "mnist_logreg", "--weights",
                              str(tmp / "gone.pt")), r"gone\.pt"),
    Case("cli-out-is-a-file", "cli",
         lambda tmp: ["run", "--suite", str(suite_file(tmp, 'name = "ok"\n[[task]]\n' + TASK,
                                                       "ok.toml")),
                      "--out", str(text_file(tmp, "taken.txt")), "--no-report"], r"taken\.txt"),
    Case("cli-out-under-a-file", "cli",
         lambda tmp: ["run", "--suite", str(suite_file(tmp, 'name = "ok"\n[[task]]\n' + TASK,
                                                       "ok.toml")),
                      "--out", str(text_file(tmp, "taken.txt") / "run"), "--no-report"],
         r"taken\.txt"),
    Case("cli-out-unwritable", "cli",
         lambda tmp: ["run", "--suite", str(suite_file(tmp, 'name = "ok"\n[[task]]\n' + TASK,
                                                       "ok.toml")),
                      "--out", "/proc/auditbench-run", "--no-report"], "auditbench-run"),
    Case("cli-data-missing", "cli", lambda tmp: model_run(tmp, "--data", str(tmp / "nodata")),
         "nodata"),
    Case("cli-data-no-images", "cli",
         lambda tmp: model_run(tmp, "--data", str(image_folder(
             tmp, {"0/readme.txt": b"hello\n", "1/notes.txt": b"hi\n"}))), "pics"),
    Case("cli-data-zero-byte-image", "cli",
         lambda tmp: model_run(tmp, "--data", str(image_folder(
             tmp, {"0/a.png": png_bytes(), "1/zero.png": b""}))), r"zero\.png"),
    Case("cli-labels-csv-minus-one", "cli",
         lambda tmp: model_run(tmp, *flat_with_labels(tmp, ["0", "1", "2", "-1", "3"])), "-1"),
    Case("cli-labels-csv-56", "cli",
         lambda tmp: model_run(tmp, *flat_with_labels(tmp, ["0", "1", "2", "56", "3"])),
         r"\b56\b"),
    Case("cli-labels-csv-mixed", "cli",
         lambda tmp: model_run(tmp, *flat_with_labels(tmp, ["0", "1", "cat", "2", "3"])), "cat"),
    Case("cli-report-random-bytes-store", "cli",
         lambda tmp: ["report", str(random_bytes_store(tmp))], r"results\.sqlite"),
    Case("cli-report-empty-store", "cli", lambda tmp: ["report", str(store(tmp, b""))],
         r"results\.sqlite"),
    Case("cli-report-no-run", "cli", lambda tmp: ["report", str(tmp / "norun")], "norun"),
    Case("cli-card-random-bytes-store", "cli",
         lambda tmp: ["card", str(random_bytes_store(tmp))], r"results\.sqlite"),
    Case("cli-card-empty-store", "cli", lambda tmp: ["card", str(store(tmp, b""))],
         r"results\.sqlite"),
    # --- a real process, the whole path from the shell
    Case("proc-model-unknown", "proc", lambda tmp: run_args(tmp, "--model", "mnist_cnnn"),
         "mnist_cnnn"),
    Case("proc-card-random-bytes-store", "proc",
         lambda tmp: ["card", str(random_bytes_store(tmp))], r"results\.sqlite"),
    # --- the Python API: shapes, dtypes, values, names, weights, gradients
    Case("api-pgd-3d-x", "api", attack("pgd", x=X2[0]), r"\bx\b"),
    Case("api-fgsm-float64-x", "api", attack("fgsm", x=X2.double()), "float64"),
    Case("api-fgsm-uint8-x", "api", attack("fgsm", x=(X2 * 255).to(torch.uint8)), "uint8"),
    Case("api-pgd-labels-wrong-length", "api", attack("pgd", y=torch.tensor([0, 1, 2])),
         r"\b3\b"),
    Case("api-fgsm-float-labels", "api", attack("fgsm", y=torch.tensor([0.0, 1.0])), r"\by\b"),
    Case("api-fgsm-labels-out-of-range", "api", attack("fgsm", y=torch.tensor([0, 10])),
         r"\b10\b"),
    Case("api-fgsm-nan-image", "api",
         attack("fgsm", x=X2.clone().index_put_((torch.tensor([0]),), torch.tensor(float("nan")))),
         "nan"),
    Case("api-pgd-inf-image", "api",
         attack("pgd", x=X2.clone().index_put_((torch.tensor([1]),), torch.tensor(float("inf")))),
         "inf"),
    Case("api-fgsm-empty-batch", "api",
         attack("fgsm", x=X2[:0], y=torch.zeros(0, dtype=torch.long)), r"empty|\b0\b"),
    Case("api-pgd-eps-negative", "api", attack("pgd", eps=-0.1), r"\beps\b"),
    Case("api-pgd-steps-zero", "api", attack("pgd", steps=0), r"\bsteps\b"),
    Case("api-pgd-norm-unknown", "api", attack("pgd", norm="l3"), "l3"),
    Case("api-pgd-not-differentiable", "api", attack("pgd", model=NoGradNet),
         "differentiable"),
    Case("api-saliency-not-differentiable", "api", attribute("saliency", model=NoGradNet),
         "differentiable"),
    Case("api-fgsm-thresholded-input", "api", attack("fgsm", model=ThresholdNet),
         "differentiable"),
    Case("api-integrated-gradients-thresholded-input", "api",
         attribute("integrated_gradients", model=ThresholdNet, steps=4), "differentiable"),
    Case("api-grad-cam-layer-off-the-path", "api",
         attribute("grad_cam", model=SideBranchNet, layer="side"), r"\bside\b"),
    Case("api-saliency-target-out-of-range", "api", attribute("saliency", target=10), r"\b10\b"),
    Case("api-saliency-nan-image", "api", attribute("saliency", x=X2 * torch.nan), "nan"),
    Case("api-grad-cam-layer-unknown", "api", attribute("grad_cam", layer="net.99"), r"net\.99"),
    Case("api-occlusion-window-zero", "api",
         attribute("occlusion", window=0, stride=1), "window"),
    Case("api-deep-dream-layer-unknown", "api",
         lambda tmp: (lambda net: lambda: lazy("generative.deep_dream")(
             net, X2[:1], "net.99", steps=1))(shipped()),
         r"net\.99"),
    Case("api-load-model-unknown", "api", call(lazy("zoo.load_model"), "mnist_cnnn"),
         r"mnist_cnnn.*did you mean"),
    Case("api-load-model-tv-unknown", "api", call(lazy("zoo.load_model"), "tv:notanarch"),
         "notanarch"),
    Case("api-load-model-text-weights", "api", load_with(text_file), r"notes\.pt"),
    Case("api-load-model-foreign-weights", "api", load_with(foreign_state), r"mlp\.pt"),
    Case("api-load-dataset-unknown", "api", call(lazy("zoo.load_dataset"), "mnist6k", "test"),
         "mnist6k"),
    Case("api-load-photo-unknown", "api", call(lazy("zoo.load_photo"), "nophoto"), "nophoto"),
    Case("api-get-attack-unknown", "api", call(lazy("attacks.get_attack"), "pgdd"), "pgdd"),
    Case("api-attribution-method-unknown", "api", call(lazy("attribution.get_method"), "salency"),
         "salency"),
    Case("api-generative-method-unknown", "api", call(lazy("generative.get_method"), "deepdreem"),
         "deepdreem"),
    Case("api-load-suite-unknown", "api", call(lazy("bench.suite.load_suite"), "nosuchsuite"),
         "nosuchsuite"),
    Case("api-run-suite-dict-unknown-kind", "api",
         lambda tmp: lambda: lazy("auditbench.run_suite")(
             {"name": "bad", "task": [{"kind": "robustnes"}]}, tmp / OUT, report=False),
         "robustnes"),
    Case("api-run-suite-threads-zero", "api",
         lambda tmp: (lambda path: lambda: lazy("auditbench.run_suite")(
             path, tmp / OUT, threads=0, report=False))(
                 suite_file(tmp, 'name = "ok"\n[[task]]\n' + TASK, "ok.toml")), "threads"),
]
