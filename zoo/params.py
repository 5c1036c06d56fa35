"""Hyperparameters as signatures declare them.

A method's keyword-only parameters, with their annotations and defaults, are the one list of
its hyperparameters. Each annotation says what kind of value it takes, and this module turns
that into the check that guards a library call (``checked``) and the check a suite file's
value gets before any job runs: one rule, read from one place.

    def pgd(model, x, y, *, eps: NonNegative, alpha: StepSize, steps: PositiveInt,
            norm: Literal["linf", "l2"] = "linf", random_start: bool = True, ...)

What an annotation may say:

- ``int``, ``float``, ``bool``, ``str``: the value's type (an ``int`` is a ``float`` too, and is
  returned as one; ``bool`` is never a number; a ``str`` is non-empty);
- ``Literal["a", "b"]``: one of these values;
- ``X | None``: ``None`` as well; a union with a runtime type (``float | torch.Tensor``)
  checks the values a suite can give and leaves tensors to the method;
- ``list[X]``, ``Sequence[X]``, ``tuple[X, ...]``: a non-empty list of ``X``;
- ``Annotated[X, marker, ...]``: ``X`` narrowed by markers: ``AtLeast``, ``Above``,
  ``AtMost`` (bounds), ``Grid`` (a sorted list of budgets; one number is a grid of one),
  ``Relative`` (may be given, under another name, as a multiple of another parameter, or
  as a fraction of the image's side: a window's side that grows with the image).

Anything else (tensors, generators, modules, callables, regularisers) is a runtime object: a
suite cannot give it and the method checks it itself. The kinds every package shares are
named here: ``PositiveInt``, ``NonNegativeInt``, ``NonNegative``, ``Positive``, ``Fraction``,
``Budgets``, ``Layer`` (a module of the model, by qualified name) and ``Iterations`` (a count
of steps or samples, marked ``Work`` so benchmarks can budget it).
"""

from __future__ import annotations

import functools
import inspect
import math
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from zoo.checks import check_choice, check_eps_grid, check_nonnegative
from zoo.errors import UserError

REQUIRED = inspect.Parameter.empty  # the default of a parameter that has none
Check = Callable[[object, str], Any]


# --- markers -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AtLeast:
    """The value is ``>= bound``."""

    bound: float


@dataclass(frozen=True)
class Above:
    """The value is ``> bound``."""

    bound: float


@dataclass(frozen=True)
class AtMost:
    """The value is ``<= bound``."""

    bound: float


@dataclass(frozen=True)
class Grid:
    """A grid of budgets: finite numbers ``>= 0``, returned sorted ascending; a single number
    is a grid of one."""


#: what a relative size is a fraction of: the side of the image a call runs on, in pixels
SIDE = "side"


@dataclass(frozen=True)
class Relative:
    """The parameter may instead be given as ``name``, a multiple of ``to``: another parameter
    (``eps``), or ``SIDE``, the side of the image the call runs on. ``value = name * to`` (a
    step size as a fraction of the budget, say). With ``whole``, the value is a whole part of
    ``to`` (a window's side, of the image's side): ``name`` is a fraction in ``(0, 1]`` and
    ``value = max(1, floor(name * to))``. Giving both is an error; the multiple is resolved
    at each call, for each value of ``to``."""

    to: str
    name: str
    whole: bool = False

    def resolve(self, factor: float, to: float) -> float | int:
        if self.whole:
            # the tolerance keeps 0.29 * 100 at 29 where the float product is 28.999...
            return max(1, math.floor(float(factor) * float(to) + 1e-9))
        return float(factor) * float(to)

    def formula(self, param: str) -> str:
        """The rule in words: ``alpha = rel_alpha * eps``."""
        if self.whole:
            return f"{param} = max(1, floor({self.name} * {self.to}))"
        return f"{param} = {self.name} * {self.to}"


@dataclass(frozen=True)
class Work:
    """The count is how much work a call does (iterations, noise samples): what a benchmark
    sets to its budget."""


@dataclass(frozen=True)
class Pixels:
    """A length in image pixels (a window's side): it grows with the image."""


@dataclass(frozen=True)
class LayerName:
    """The string is the qualified name of one of the model's modules (``net.4``)."""


PositiveInt = Annotated[int, AtLeast(1)]
NonNegativeInt = Annotated[int, AtLeast(0)]
NonNegative = Annotated[float, AtLeast(0.0)]
Positive = Annotated[float, Above(0.0)]
Fraction = Annotated[float, AtLeast(0.0), AtMost(1.0)]
Budgets = Annotated[list[float], Grid()]
Layer = Annotated[str, LayerName()]
Iterations = Annotated[int, AtLeast(1), Work()]


# --- one parameter -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    """One keyword-only parameter: its name, resolved annotation and default, and the check
    its annotation gives. ``settable``: a suite file can give it (a TOML value)."""

    name: str
    annotation: Any
    default: Any = REQUIRED
    settable: bool = False
    relative: Relative | None = None
    markers: tuple[Any, ...] = ()
    _check: Check | None = field(default=None, repr=False, compare=False)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def has(self, kind: type) -> bool:
        """Whether a marker of type ``kind`` annotates it (or a member of a union, or the
        items of a list)."""
        return any(isinstance(m, kind) for m in _all_markers(self.annotation))

    def check(self, value: object, key: str | None = None) -> Any:
        """The value, normalised (an int given for a float becomes a float), or a
        ``UserError`` (a ``ValueError``) naming ``key`` (the parameter's name by default)."""
        if self._check is None:
            return value
        try:
            return self._check(value, key or self.name)
        except UserError:
            raise
        except ValueError as err:  # a shared check of zoo.checks: the user's value all the same
            raise UserError(str(err)) from None

    def check_relative(self, value: object, key: str | None = None) -> Any:
        """A value of its relative form (``relative.name``, which ``key`` defaults to): a
        fraction in ``(0, 1]`` for a whole part of ``to``, else what the parameter itself
        takes (a step's multiple is a non-negative number, as the step is)."""
        if self.relative is None:
            raise ValueError(f"{self.name} has no relative form")
        key = key or self.relative.name
        return _SHARE(value, key) if self.relative.whole else self.check(value, key)


def split_annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """``Annotated[X, m1, m2]`` -> ``(X, (m1, m2))``; anything else -> ``(it, ())``."""
    if get_origin(annotation) is Annotated:
        base, *markers = get_args(annotation)
        inner, more = split_annotated(base)
        return inner, (*more, *markers)
    return annotation, ()


def _all_markers(annotation: Any) -> list[Any]:
    base, markers = split_annotated(annotation)
    found = list(markers)
    if get_origin(base) not in (None, Literal):  # unions, lists: look inside
        for member in get_args(base):
            found += _all_markers(member)
    return found


def make_param(name: str, annotation: Any, default: Any = REQUIRED) -> Param:
    """A ``Param`` whose check is read off ``annotation``; its default must pass it."""
    _, markers = split_annotated(annotation)
    check = rule(annotation)
    relative = next((m for m in markers if isinstance(m, Relative)), None)
    param = Param(name, annotation, default, check is not None, relative, markers, check)
    if default is not REQUIRED and default is not None and check is not None:
        try:
            check(default, name)
        except ValueError as err:
            raise TypeError(f"the default of {name!r} fails its own annotation: {err}") from None
    return param


def keyword_params(fn: Callable[..., Any]) -> dict[str, Param]:
    """Every keyword-only parameter of ``fn``, in signature order, annotations resolved.

    With ``from __future__ import annotations`` the annotations are strings, evaluated here in
    ``fn``'s module: the names they use must be imported there at run time (not only under
    ``TYPE_CHECKING``), or this raises ``TypeError`` naming the parameter.
    """
    fn = inspect.unwrap(fn)
    out = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        annotation = p.annotation
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, fn.__globals__)  # noqa: S307 (the module's own text)
            except Exception as err:  # any failure to resolve is the same mistake
                raise TypeError(f"{fn.__qualname__}: cannot resolve the annotation of {name!r} "
                                f"({p.annotation!r}): {err}") from None
        out[name] = make_param(name, annotation, p.default)
    return out


def checked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Check every keyword argument of a call against its parameter's annotation before
    ``fn`` runs (a ``ValueError`` naming it; nothing else happens); ``fn`` receives the
    normalised values. Defaults are checked once, here. ``fn.params`` holds the parameters.
    """
    params = keyword_params(fn)
    checks = {name: p.check for name, p in params.items() if p.settable}

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            check = checks.get(name)
            if check is not None:
                kwargs[name] = check(value, name)
        return fn(*args, **kwargs)

    call.params = params  # type: ignore[attr-defined]
    return call


def resolve(params: Mapping[str, Param], given: Mapping[str, Any],
            context: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for a call: ``given`` with every relative multiple (checked) replaced
    by its value at ``context`` (``rel_alpha`` -> ``alpha = rel_alpha * eps``; ``rel_window``
    -> ``window = max(1, floor(rel_window * side))`` with ``side`` the image's)."""
    out = dict(given)
    for name, p in params.items():
        if p.relative is not None and p.relative.name in out:
            if name in out:
                raise UserError(f"give {name} or {p.relative.name}, not both")
            factor = p.check_relative(out.pop(p.relative.name))
            if p.relative.to not in context:
                what = "a fraction" if p.relative.whole else "a multiple"
                raise UserError(f"{p.relative.name} is {what} of {p.relative.to}, which "
                                 "this call does not have")
            out[name] = p.relative.resolve(factor, context[p.relative.to])
    return out


# --- annotations -> checks ---------------------------------------------------------------------

def rule(annotation: Any) -> Check | None:
    """The check ``annotation`` gives, or ``None`` for a runtime object a suite cannot give."""
    base, markers = split_annotated(annotation)
    origin = get_origin(base)
    if origin in (Union, types.UnionType):
        return _union(get_args(base), markers)
    if origin is Literal:
        choices = get_args(base)
        return lambda v, k: _choice(v, k, choices)
    if origin in (list, tuple, Sequence) or base in (list, tuple):
        return _sequence(base, markers)
    if base is bool:
        return _bool
    if base is int:
        return _bounded(_int, markers)
    if base is float:
        return _bounded(_float, markers)
    if base is str:
        return _str
    return None


def _choice(value: object, key: str, choices: tuple[Any, ...]) -> Any:
    if all(isinstance(c, str) for c in choices):
        return check_choice(value, key, choices)
    if isinstance(value, bool) or value not in choices:
        raise UserError(f"{key} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{key} must be true or false, got {value!r}")
    return value


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{key} must be an integer, got {value!r}")
    return value


def _float(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{key} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise UserError(f"{key} must be finite, got {value!r}")
    return float(value)


def _str(value: object, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise UserError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _bounded(check: Check, markers: tuple[Any, ...]) -> Check:
    bounds = [m for m in markers if isinstance(m, (AtLeast, Above, AtMost))]
    if not bounds:
        return check

    def bounded(value: object, key: str) -> Any:
        if check is _float and any(isinstance(b, AtLeast) and b.bound == 0 for b in bounds):
            value = check_nonnegative(value, key)  # the budgets' own message
        else:
            value = check(value, key)
        for b in bounds:
            if isinstance(b, AtLeast) and value < b.bound:
                raise UserError(f"{key} must be >= {b.bound:g}, got {value!r}")
            if isinstance(b, Above) and value <= b.bound:
                raise UserError(f"{key} must be > {b.bound:g}, got {value!r}")
            if isinstance(b, AtMost) and value > b.bound:
                raise UserError(f"{key} must be <= {b.bound:g}, got {value!r}")
        return value

    return bounded


def _sequence(base: Any, markers: tuple[Any, ...]) -> Check | None:
    if any(isinstance(m, Grid) for m in markers):
        return lambda v, k: check_eps_grid(v, k)
    args = get_args(base)
    as_tuple = get_origin(base) is tuple or base is tuple  # a tuple stays one
    fixed = as_tuple and args and args[-1] is not Ellipsis
    items = [rule(a) for a in args if a is not Ellipsis] or [None]
    if any(c is None for c in items):
        return None  # a list of runtime objects (regularisers, say)

    def sequence(value: object, key: str) -> list[Any] | tuple[Any, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise UserError(f"{key} must be a non-empty list, got {value!r}")
        if fixed and len(value) != len(items):
            raise UserError(f"{key} must hold {len(items)} values, got {value!r}")
        out = [items[i if fixed else 0](v, f"{key}[{i}]")  # type: ignore[misc]
               for i, v in enumerate(value)]
        return tuple(out) if as_tuple else out

    return _bounded_items(sequence, markers)


def _bounded_items(check: Check, markers: tuple[Any, ...]) -> Check:
    bounds = [m for m in markers if isinstance(m, (AtLeast, Above, AtMost))]
    if not bounds:
        return check
    inner = _bounded(lambda v, k: v, tuple(bounds))
    return lambda v, k: [inner(item, f"{k}[{i}]") for i, item in enumerate(check(v, k))]


def _union(members: tuple[Any, ...], markers: tuple[Any, ...]) -> Check | None:
    nullable = type(None) in members
    checks = [rule(Annotated[(m, *markers)] if markers else m)
              for m in members if m is not type(None)]
    runtime = [m for m, c in zip([m for m in members if m is not type(None)], checks,
                                 strict=True) if c is None]
    usable = [c for c in checks if c is not None]
    if not usable:
        return None

    def union(value: object, key: str) -> Any:
        if value is None and nullable:
            return None
        if any(isinstance(value, _runtime_type(m)) for m in runtime):
            return value  # a tensor, say: the method checks it
        errors = []
        for check in usable:
            try:
                return check(value, key)
            except ValueError as err:
                errors.append(str(err))
        raise UserError(errors[0] if len(errors) == 1 else " or ".join(errors))

    return union


#: the check of a whole part's relative form: a fraction of the whole, in ``(0, 1]``
_SHARE: Check = _bounded(_float, (Above(0.0), AtMost(1.0)))


def _runtime_type(annotation: Any) -> type | tuple[type, ...]:
    origin = get_origin(annotation) or annotation
    return origin if isinstance(origin, type) else object
