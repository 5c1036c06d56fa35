"""The perf suite's smoke test, the CI entry point for bench/perf (which ``testpaths`` does
not collect): the suite runs in quick mode on CPU and its JSON covers every registered
method, with its reference where one exists, and carries the schema the timing loader reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Literal

import pytest
import torch
from torch import nn

import attacks
import attribution
import generative
from attribution import reference as captum_reference
from bench.perf import cases
from zoo.params import (
    SIDE,
    Iterations,
    LayerName,
    NonNegative,
    PositiveInt,
    Relative,
    Work,
)

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"role", "family", "method", "model", "size", "batch", "device", "dtype", "threads",
        "passes", "grad_passes", "params", "torch_version"}
REGISTRIES = {"attack": attacks.list_attacks, "attribution": attribution.list_methods,
              "generative": generative.list_methods}


def test_every_registered_method_gets_its_settings_from_its_signature() -> None:
    for family in cases.FAMILIES:
        for name in cases.registered(family):
            info = cases.method(family, name)
            for quick, work in ((False, cases.WORK[family]), (True, cases.QUICK_WORK)):
                given = cases.budget(family, info, 28, quick)
                for key, param in info.settings.items():
                    if param.has(Work):
                        assert given[key] == work, (name, key)
                    elif param.required and not param.has(LayerName):  # a layer: per model
                        assert key in given or param.relative.name in given, (name, key)


@pytest.mark.parametrize(("size", "window", "stride"), [
    (28, 4, 2), (32, 4, 2),  # the suite's 4 px by 2 on the shipped models
    (64, 9, 4), (128, 19, 9), (224, 33, 16),  # windows grow with the image
])
def test_occlusions_window_is_resolved_at_the_cases_size(size: int, window: int,
                                                         stride: int) -> None:
    # the suite defaults are fractions of the side (rel_window, rel_stride); a timed call
    # gets them in pixels, resolved at the case's size as a suite job's call would be
    occlusion = cases.method("attribution", "occlusion")
    assert cases.budget("attribution", occlusion, size, False) == {"window": window,
                                                                   "stride": stride}
    assert occlusion.kwargs(occlusion.suite_defaults, side=size) == {"window": window,
                                                                      "stride": stride}
    # quick mode: half the side
    assert cases.budget("attribution", occlusion, size, True) == {"window": size // 2,
                                                                  "stride": size // 2}


def sized(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
          patch: Annotated[PositiveInt, Relative(SIDE, "rel_patch", whole=True)],
          pad: Annotated[PositiveInt, Relative(SIDE, "rel_pad", whole=True)] = 1,
          ) -> torch.Tensor:
    return x


def test_a_required_relative_size_without_a_default_gets_a_budget() -> None:
    attribution.register("sized_attr", paper="none")(sized)
    try:
        info = cases.method("attribution", "sized_attr")
        # no default: a quarter of the side; an optional one keeps its signature default
        assert cases.budget("attribution", info, 64, False) == {"patch": 16}
        assert cases.budget("attribution", info, 64, True) == {"patch": 32}
    finally:
        attribution.registry.unregister("sized_attr")


def odd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: NonNegative,
        mode: Literal["a", "b"], steps: Iterations) -> torch.Tensor:
    return x


def test_a_required_setting_without_a_budget_rule_fails_naming_it() -> None:
    attacks.register("odd_attack", paper="none")(odd)
    try:
        with pytest.raises(KeyError, match="odd_attack's required setting 'mode'"):
            cases.cases("attack", quick=True, devices=["cpu"])
    finally:
        attacks.registry.unregister("odd_attack")


def test_perf_suite_quick_covers_every_method(tmp_path: Path) -> None:
    out = tmp_path / "perf.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/perf", "--perf-quick", "--perf-device", "cpu",
         "-p", "no:cacheprovider", "-q", "--benchmark-json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    benchmarks = json.loads(out.read_text())["benchmarks"]
    seen: set[tuple[str, str, str]] = set()
    for b in benchmarks:
        info = b["extra_info"]
        assert set(info) >= KEYS, f"{b['name']} lacks {sorted(KEYS - set(info))}"
        assert info["passes"] >= 1, b["name"]
        assert info["grad_passes"] <= info["passes"], b["name"]
        assert info["role"] in ("ours", "reference", "floor"), b["name"]
        assert b["group"].startswith(f"{info['family']}/"), b["group"]
        assert b["group"].endswith(f"/{info['size']}px/b{info['batch']}/{info['device']}")
        assert json.loads(info["params"]) is not None
        seen.add((info["family"], info["method"], info["role"]))
    for family, lister in REGISTRIES.items():
        for method in lister():
            roles = {"ours", "floor"}
            if family == "attack" and any((method, n) in cases.TORCHATTACKS
                                          for n in attacks.get_attack(method).norms):
                roles.add("reference")
            if family == "attribution" and hasattr(captum_reference, method):
                roles.add("reference")
            for role in roles:
                assert (family, method, role) in seen, f"no {role} benchmark for {family} {method}"
    # one benchmark per role within a group
    per_group = [(b["group"], b["extra_info"]["role"]) for b in benchmarks]
    assert len(per_group) == len(set(per_group))
