"""Hyperparameters read off signatures: the checks annotations give, the ``checked`` wrapper,
relative settings, a registered method's schema, and the registry type."""

from __future__ import annotations

import inspect
from typing import Annotated, Literal

import pytest
import torch

from zoo.errors import UserError
from zoo.methods import Method, register_method
from zoo.params import (
    SIDE,
    AtLeast,
    Budgets,
    Fraction,
    Iterations,
    Layer,
    LayerName,
    NonNegative,
    Positive,
    PositiveInt,
    Relative,
    Work,
    checked,
    keyword_params,
    resolve,
)
from zoo.registry import Registry

Step = Annotated[float, AtLeast(0.0), Relative("eps", "rel_step")]


def method(x: torch.Tensor, *, eps: NonNegative, step: Step, steps: Iterations = 5,
           rho: Fraction = 0.5, lr: Positive | None = None, mode: Literal["a", "b"] = "a",
           sizes: list[PositiveInt] | None = None, window: PositiveInt | tuple[int, ...] = 2,
           layer: Layer = "net.0", grid: Budgets = (0.1,), flag: bool = False,
           generator: torch.Generator | None = None, baseline: float | torch.Tensor = 0.0,
           ) -> torch.Tensor:
    return x


PARAMS = keyword_params(method)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("eps", 1, 1.0),  # an int for a float becomes a float: job ids do not depend on spelling
    ("steps", 3, 3),
    ("rho", 1, 1.0),
    ("lr", None, None),
    ("mode", "b", "b"),
    ("sizes", [1, 2], [1, 2]),
    ("window", 3, 3),
    ("window", (2, 3), (2, 3)),  # a tuple stays a tuple
    ("window", [2, 3], (2, 3)),
    ("grid", [0.3, 0, 0.1], [0.0, 0.1, 0.3]),  # a grid is sorted
    ("grid", 0.2, [0.2]),
    ("flag", True, True),
    ("baseline", 0.5, 0.5),
])
def test_annotations_check_and_normalise(name: str, value: object, expected: object) -> None:
    out = PARAMS[name].check(value)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("eps", -0.1, "eps must be finite and >= 0"),
    ("eps", float("nan"), "eps must be finite"),
    ("eps", "0.1", "eps must be a real number"),
    ("steps", 0, "steps must be >= 1, got 0"),
    ("steps", 2.0, "steps must be an integer"),
    ("steps", True, "steps must be an integer"),
    ("rho", 1.5, "rho must be <= 1"),
    ("lr", 0.0, "lr must be > 0"),
    ("mode", "c", "mode must be one of 'a', 'b'"),
    ("sizes", [1, 0], r"sizes\[1\] must be >= 1"),
    ("sizes", [], "non-empty list"),
    ("sizes", "12", "non-empty list"),
    ("layer", "", "non-empty string"),
    ("grid", [0.1, -1], r"grid\[1\]"),
    ("flag", 1, "true or false"),
])
def test_annotations_refuse_bad_values_naming_them(name: str, value: object,
                                                   message: str) -> None:
    with pytest.raises(UserError, match=message):  # still a ValueError
        PARAMS[name].check(value)


def test_runtime_objects_are_left_to_the_method() -> None:
    assert not PARAMS["generator"].settable and PARAMS["generator"].check(3) == 3
    tensor = torch.zeros(2)
    assert PARAMS["baseline"].settable and PARAMS["baseline"].check(tensor) is tensor
    assert PARAMS["step"].relative == Relative("eps", "rel_step")
    assert PARAMS["steps"].has(Work) and PARAMS["layer"].has(LayerName)
    assert not PARAMS["eps"].has(Work) and PARAMS["eps"].required and not PARAMS["rho"].required


def test_checked_checks_keyword_arguments_before_the_body_runs() -> None:
    calls = []

    @checked
    def f(x: int, *, steps: PositiveInt = 2, rate: NonNegative = 1.0) -> tuple[int, float]:
        calls.append(x)
        return steps, rate

    assert f(1, rate=2) == (2, 2.0) and isinstance(f(1, rate=2)[1], float)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        f(1, steps=0)
    assert calls == [1, 1]  # the refused call never ran
    assert list(inspect.signature(f).parameters) == ["x", "steps", "rate"]
    assert set(f.params) == {"steps", "rate"}


def test_a_default_that_fails_its_own_annotation_is_refused_at_definition() -> None:
    def bad(*, steps: PositiveInt = 0) -> None: ...

    with pytest.raises(TypeError, match="default of 'steps'"):
        keyword_params(bad)


def test_an_annotation_that_cannot_be_resolved_is_named() -> None:
    def f(*, steps: NoSuchType = 1) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError, match="'steps'.*NoSuchType"):
        keyword_params(f)


def test_relative_settings_resolve_at_the_context() -> None:
    assert resolve(PARAMS, {"rel_step": 0.25, "steps": 3}, {"eps": 0.4}) == {"step": 0.1,
                                                                             "steps": 3}
    with pytest.raises(ValueError, match="give step or rel_step, not both"):
        resolve(PARAMS, {"rel_step": 0.25, "step": 0.1}, {"eps": 0.4})
    with pytest.raises(ValueError, match="multiple of eps"):
        resolve(PARAMS, {"rel_step": 0.25}, {})


def test_a_registered_methods_settings_keys_and_checks() -> None:
    registry: Registry[Method] = Registry("toy method")
    entry = register_method(registry, Method, "toy", method, paper="none",
                            family_protocol=("eps", "generator", "absent"),
                            protocol=("layer",), aliases={"steps": "toy_steps"},
                            suite_defaults={"rho": 0.25})
    assert entry.protocol == {"eps", "generator", "layer"}  # the family's, where it applies
    keys = entry.suite_keys()
    assert keys["toy_steps"] == "steps" and keys["rel_step"] == "step" and "steps" not in keys
    assert "eps" not in keys and "layer" not in keys and "generator" not in keys
    assert entry.check_settings({"rel_step": 1, "toy_steps": 4}) == {"rel_step": 1.0,
                                                                     "toy_steps": 4}
    for given, message in [({"eps": 0.1, "step": 1.0}, "set by whoever runs toy"),
                           ({"step": 1.0, "stepz": 1}, "toy has no setting 'stepz'"),
                           ({}, "toy needs a step: step or rel_step"),
                           ({"step": 1.0, "rel_step": 1.0}, "not both"),
                           ({"step": -1.0}, "step must be finite and >= 0")]:
        with pytest.raises(ValueError, match=message):
            entry.check_settings(given)
    assert entry.kwargs({"rel_step": 0.5, "toy_steps": 2, "other": 1}, eps=0.2) == {
        "step": 0.1, "steps": 2}
    assert registry.get("toy") is entry and entry.fn(1, eps=0.1, step=0.0) == 1
    with pytest.raises(ValueError, match="eps must be finite"):
        entry(1, eps=-1.0, step=0.0)  # the registered function checks its arguments
    with pytest.raises(ValueError, match="suite_defaults names 'nope'"):
        register_method(registry, Method, "toy2", method, paper="", suite_defaults={"nope": 1})


Side = Relative(SIDE, "rel_win", whole=True)
Win = Annotated[PositiveInt | tuple[PositiveInt, ...], Side]


def sized(x: torch.Tensor, *, win: Win, stride: Annotated[PositiveInt, Relative(
        SIDE, "rel_stride", whole=True)] = 1, batch: PositiveInt = 4) -> torch.Tensor:
    return x


@pytest.mark.parametrize(("fraction", "side", "expected"), [
    (0.15, 28, 4), (0.075, 28, 2),  # occlusion's suite defaults on a digit: 4 px by 2
    (0.15, 32, 4), (0.075, 32, 2),
    (0.15, 224, 33), (0.075, 224, 16),
    (1.0, 28, 28),  # the whole side
    (0.01, 28, 1),  # never less than a pixel
    (0.29, 100, 29),  # 0.29 * 100 is 28.999... in floats: still 29
])
def test_a_size_relative_to_the_side_is_a_whole_part_of_it(
        fraction: float, side: int, expected: int) -> None:
    value = Side.resolve(fraction, side)
    assert value == expected and type(value) is int
    params = keyword_params(sized)
    assert resolve(params, {"rel_win": fraction, "batch": 2}, {SIDE: side}) == {
        "win": expected, "batch": 2}


def test_a_relative_size_is_a_fraction_of_the_side() -> None:
    params = keyword_params(sized)
    assert params["win"].relative == Side and params["stride"].relative.whole
    assert Side.formula("win") == "win = max(1, floor(rel_win * side))"
    assert Relative("eps", "rel_step").formula("step") == "step = rel_step * eps"
    assert params["win"].check_relative(1) == 1.0
    for value, message in [(0, "rel_win must be > 0, got 0"), (1.5, "rel_win must be <= 1"),
                           (-0.1, "rel_win must be > 0"), ("0.1", "must be a real number"),
                           (True, "must be a real number")]:
        with pytest.raises(ValueError, match=message):
            params["win"].check_relative(value)
        with pytest.raises(ValueError, match=message.split(",")[0]):
            resolve(params, {"rel_win": value}, {SIDE: 28})
    # the step's multiple is checked as the step is: a non-negative number, no upper bound
    assert PARAMS["step"].check_relative(2) == 2.0
    with pytest.raises(ValueError, match="rel_step must be finite and >= 0"):
        PARAMS["step"].check_relative(-1)
    with pytest.raises(ValueError, match="no relative form"):
        PARAMS["steps"].check_relative(1)
    with pytest.raises(ValueError, match="give win or rel_win, not both"):
        resolve(params, {"rel_win": 0.5, "win": 3}, {SIDE: 28})
    with pytest.raises(ValueError, match="rel_win is a fraction of side, which this call"):
        resolve(params, {"rel_win": 0.5}, {"eps": 0.1})


def test_a_registered_method_takes_sizes_relative_to_the_side() -> None:
    registry: Registry[Method] = Registry("toy method")
    entry = register_method(registry, Method, "sized", sized, paper="none",
                            suite_defaults={"rel_win": 0.15, "stride": 2})
    assert entry.suite_defaults == {"rel_win": 0.15, "stride": 2}
    assert entry.suite_keys() == {"win": "win", "rel_win": "win", "stride": "stride",
                                  "rel_stride": "stride", "batch": "batch"}
    assert entry.forms("rel_win") == ["win"] and entry.forms("win") == ["rel_win"]
    assert entry.forms("batch") == [] and entry.forms("nope") == []
    assert entry.check_settings({"rel_win": 1, "rel_stride": 0.5}) == {"rel_win": 1.0,
                                                                       "rel_stride": 0.5}
    assert entry.check_settings({"win": (3, 4)}) == {"win": (3, 4)}
    for given, message in [({}, r"sized needs a size: win or rel_win "
                                r"\(win = max\(1, floor\(rel_win \* side\)\)\)"),
                           ({"win": 3, "rel_win": 0.5}, "give win or rel_win for sized, not both"),
                           ({"rel_win": 1.5}, "rel_win must be <= 1, got 1.5"),
                           ({"rel_stride": 0.0}, "rel_stride must be > 0")]:
        with pytest.raises(ValueError, match=message):
            entry.check_settings(given)
    assert entry.kwargs({"rel_win": 0.15, "rel_stride": 0.075, "batch": 8}, side=224) == {
        "win": 33, "stride": 16, "batch": 8}
    assert entry.kwargs({"win": 5, "stride": 2}) == {"win": 5, "stride": 2}  # no side needed
    for defaults, message in [({"rel_win": 0.1, "win": 2}, "suite_defaults give win and "
                                                           "rel_win; give one"),
                              ({"rel_win": 1.5}, "rel_win must be <= 1"),
                              ({"rel_batch": 0.5}, "names 'rel_batch'.*nor a relative form")]:
        with pytest.raises(ValueError, match=message):
            register_method(registry, Method, "sized2", sized, paper="", suite_defaults=defaults)
    assert registry.names() == ["sized"]  # the refused ones were not added


def test_the_registry_type() -> None:
    registry: Registry[int] = Registry("widget")
    registry.add("b_2", 2)
    registry.add("a", 1)
    assert registry.names() == ["a", "b_2"] and list(registry) == [2, 1] and "a" in registry
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        registry.add("a", 3)
    with pytest.raises(ValueError, match="lower case"):
        registry.add("Bad-Name", 3)
    with pytest.raises(KeyError, match="unknown widget 'c'; available: a, b_2"):
        registry.get("c")
    assert registry.remove("a") == 1 and registry.names() == ["b_2"] and len(registry) == 1
