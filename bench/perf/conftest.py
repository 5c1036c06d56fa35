"""Options, parametrisation and shared machinery of the perf suite (pytest-benchmark).

    pytest bench/perf [--perf-quick] [--perf-device cpu,cuda] [--perf-threads N]
        [--perf-suite SUITE.toml] --benchmark-json perf.json

``--perf-suite`` times the models a suite file declares (``[models.NAME]``) on their own
images, instead of the shipped models.

Run it on ``bench/perf`` (or a file in it) so these options are registered. Every test gets
a ``Case`` (``attack_case``, ``attribution_case`` or ``generative_case``) and the ``perf``
kit: models and data loaded once per session, the recorded forward calls of each method, and
``measure``, which times one role and fills ``benchmark.group`` and ``extra_info``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn

import zoo
from bench.context import RunContext
from bench.definitions import dataset_of
from bench.perf import cases as perf_cases
from bench.perf.cases import Case
from bench.perf.floor import Call, counts, make_inputs, record_calls, replay
from bench.suite import Suite, SuiteError, load_suite
from bench.user_assets import load_defined_model


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perf", "auditbench perf suite")
    group.addoption("--perf-quick", action="store_true", default=False,
                    help="smoke mode: mnist_cnn only, batch 2, tiny budgets, one round")
    group.addoption("--perf-device", default="auto",
                    help="comma list of cpu, cuda; 'auto': cpu plus cuda when available")
    group.addoption("--perf-threads", type=int, default=1,
                    help="torch.set_num_threads for the session (default 1)")
    group.addoption("--perf-suite", default=None,
                    help="time the [models.*] of this suite file instead of the shipped ones")


OWN = pytest.StashKey[list[tuple[str, int]] | None]()  # the suite's models, loaded once


def own_suite(config: pytest.Config) -> Suite | None:
    path = config.getoption("--perf-suite")
    if path is None:
        return None
    try:
        suite = load_suite(path)
    except SuiteError as err:
        raise pytest.UsageError(f"--perf-suite: {err}") from None
    if not suite.definitions.models:
        raise pytest.UsageError(f"--perf-suite: {path} declares no [models.NAME] table")
    return suite


def own_models(suite: Suite | None) -> list[tuple[str, int]] | None:
    """``(name, input side)`` of each model the suite declares (each loaded once here)."""
    if suite is None:
        return None
    return [(name, load_defined_model(d).input_shape[-1])
            for name, d in suite.definitions.models.items()]


def perf_devices(config: pytest.Config) -> list[str]:
    value = config.getoption("--perf-device")
    if value == "auto":
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    devices = [d.strip() for d in value.split(",") if d.strip()]
    for d in devices:
        if d not in ("cpu", "cuda"):
            raise pytest.UsageError(f"--perf-device: expected cpu or cuda, got {d!r}")
        if d == "cuda" and not torch.cuda.is_available():
            raise pytest.UsageError("--perf-device cuda asked for, but CUDA is not available")
    return devices


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    for family in perf_cases.FAMILIES:
        name = f"{family}_case"
        if name in metafunc.fixturenames:
            if OWN not in config.stash:
                config.stash[OWN] = own_models(own_suite(config))
            found = perf_cases.cases(family, config.getoption("--perf-quick"),
                                     perf_devices(config), config.stash[OWN])
            metafunc.parametrize(name, found, ids=[c.id for c in found])


@pytest.fixture(scope="session", autouse=True)
def perf_threads(pytestconfig: pytest.Config) -> Iterator[int]:
    before = torch.get_num_threads()
    torch.set_num_threads(pytestconfig.getoption("--perf-threads"))
    yield torch.get_num_threads()
    torch.set_num_threads(before)


class PerfKit:
    """Models, data and recorded calls for the session, and ``measure``."""

    def __init__(self, quick: bool, suite: Suite | None = None) -> None:
        self.quick = quick
        self.suite = suite
        self.rounds, self.warmup = (1, 0) if quick else (5, 1)
        self._contexts: dict[str, RunContext] = {}
        self._copies: dict[tuple[str, str], nn.Module] = {}
        self._data: dict[tuple[str, int, str], tuple[torch.Tensor, torch.Tensor]] = {}
        self._calls: dict[str, list[Call]] = {}

    def model(self, name: str, device: str) -> zoo.Classifier:
        """Loaded once per device through the run harness's own context: eval mode,
        parameters frozen, torchvision without its weights file on random weights (the label
        says so)."""
        return self.context(device).model_or_random(name, None)

    def context(self, device: str) -> RunContext:
        if device not in self._contexts:
            own = {} if self.suite is None else {
                "definitions": self.suite.definitions, "seed": self.suite.seed}
            self._contexts[device] = RunContext(torch.device(device), **own)
        return self._contexts[device]

    def model_copy(self, name: str, device: str) -> nn.Module:
        """A separate instance for torchattacks, whose attack objects switch modes."""
        key = (name, device)
        if key not in self._copies:
            self._copies[key] = copy.deepcopy(self.model(name, device))
        return self._copies[key]

    def data(self, name: str, size: int, batch: int, device: str
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``batch`` test images of the model's dataset (cycled when it has fewer:
        the photos are four). A suite's own model gets its own folder's images."""
        if self.suite is not None and name in self.suite.definitions.models:
            x, y = self.context(device).dataset(dataset_of(name, self.suite.definitions))
            idx = torch.arange(batch, device=device) % len(x)
            return x[idx].contiguous(), y[idx].contiguous()
        dataset = "photos" if name.startswith("tv:") else zoo.model_spec(name).dataset
        key = (dataset, size, device)
        if key not in self._data:
            native = dataset != "photos" and size == zoo.model_spec(name).input_shape[-1]
            x, y = zoo.load_dataset(dataset, "test", size=None if native else size)
            self._data[key] = x[:64].to(device), y[:64].to(device)
        x, y = self._data[key]
        idx = torch.arange(batch, device=device) % len(x)
        return x[idx].contiguous(), y[idx].contiguous()

    def calls(self, case: Case, model: nn.Module, ours: Callable[[], Any]) -> list[Call]:
        """Our method's forward calls, recorded once per group (outside any timing)."""
        key = case.group(case.model)
        if key not in self._calls:
            self._calls[key] = record_calls(model, ours)
        return self._calls[key]

    def measure(self, benchmark: Any, case: Case, model: zoo.Classifier,
                fn: Callable[[], Any] | None, ours: Callable[[], Any],
                params: dict[str, Any]) -> None:
        """Time ``fn`` (the floor's replay when ``None``) in ``case.role``, device-synced."""
        calls = self.calls(case, model, ours)
        if fn is None:
            inputs = make_inputs(calls, case.device)
            fn = lambda: replay(model, calls, inputs)  # noqa: E731
        cuda = case.device == "cuda"

        def timed() -> None:
            fn()
            if cuda:
                torch.cuda.synchronize()

        passes, grad_passes = counts(calls)
        benchmark.group = case.group(model.label)
        benchmark.extra_info.update(
            role=case.role, family=case.family, method=case.method, norm=case.norm,
            model=model.label, size=case.size, batch=case.batch, device=case.device,
            dtype="float32", threads=torch.get_num_threads(), passes=passes,
            grad_passes=grad_passes, params=perf_cases.params_json(params),
            torch_version=torch.__version__,
        )
        benchmark.pedantic(timed, rounds=self.rounds, iterations=1,
                           warmup_rounds=self.warmup)


@pytest.fixture(scope="session")
def perf(pytestconfig: pytest.Config) -> PerfKit:
    return PerfKit(pytestconfig.getoption("--perf-quick"), own_suite(pytestconfig))


def generator(device: str, seed: int = 0) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


@pytest.fixture(scope="session")
def make_generator() -> Callable[..., torch.Generator]:
    """A fresh seeded generator on a device (test modules cannot import conftest by name)."""
    return generator
