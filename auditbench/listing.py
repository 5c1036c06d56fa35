"""What ``auditbench list`` shows, read off the packages' source without importing them.

Importing the method packages imports PyTorch (seconds); the registrations themselves are
calls with literal names (``@register("pgd", paper="Madry et al. 2018")``,
``register_kind("robustness", ...)``, ``register_model(ModelSpec("mnist_cnn", ...))``), so
the ``ast`` module reads them from the files the import system would load, in a few
milliseconds. ``tests/auditbench/test_listing.py`` checks that this index equals the
registries after import, name for name and paper for paper. An entry that a user's own code
registers at run time is not in the source, and so not listed.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One registered name and, for a method, its paper."""

    name: str
    paper: str | None = None


@dataclass(frozen=True)
class Family:
    """The entries of one registry, in the order its ``list_*`` function gives them."""

    label: str
    entries: tuple[Entry, ...]

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.entries]


def package_dir(package: str) -> Path:
    """Where a top-level package's source lies, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {package!r} not found")
    return Path(next(iter(spec.submodule_search_locations)))


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module's top-level string constants (``NAME = "deep_dream"``)."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.update({t.id: value.value for t in targets if isinstance(t, ast.Name)})
    return found


def _string(node: ast.expr, constants: dict[str, str], where: str) -> str:
    """A literal string, a module constant, or the name given to a call inside
    (``ModelSpec("mnist_cnn", ...)``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.Call):
        inner = _argument(node, "name")
        if inner is not None:
            return _string(inner, constants, where)
    raise ValueError(f"{where}: a registered name must be a literal string or a module "
                     "constant, so that `auditbench list` can read it without importing")


def _argument(call: ast.Call, keyword: str) -> ast.expr | None:
    """The call's first positional argument, else its ``keyword`` argument."""
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _callee(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _trees(package: str, needle: str) -> Iterator[tuple[Path, ast.Module]]:
    """The parsed modules of ``package`` (subpackages too) whose source contains ``needle``."""
    for path in sorted(package_dir(package).rglob("*.py")):
        if needle in path.read_text(encoding="utf-8"):
            yield path, _parse(path)


def _top_level_calls(tree: ast.Module) -> Iterator[ast.expr]:
    """What the module's own statements call on import: their decorators, and the values of
    its expression statements and assignments (registrations run there, not in functions)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from node.decorator_list
        elif isinstance(node, ast.Expr | ast.Assign | ast.AnnAssign) and node.value is not None:
            yield node.value


def registrations(package: str, callee: str) -> list[Entry]:
    """Every module-level call ``callee(name, ..., paper=...)`` in ``package``'s modules,
    sorted by name (as ``Registry.names`` sorts)."""
    entries = []
    for path, tree in _trees(package, f"{callee}("):
        constants = _constants(tree)
        for node in _top_level_calls(tree):
            if not (isinstance(node, ast.Call) and _callee(node.func) == callee):
                continue
            where = f"{path}:{node.lineno}"
            first = _argument(node, "name")
            if first is None:
                raise ValueError(f"{where}: {callee} without a name")
            paper = next((k.value for k in node.keywords if k.arg == "paper"), None)
            entries.append(Entry(_string(first, constants, where),
                                 None if paper is None else _string(paper, constants, where)))
    return sorted(entries, key=lambda e: e.name)


def _module(package: str, module: str) -> ast.Module:
    return _parse(package_dir(package) / f"{module}.py")


def models() -> list[Entry]:
    """``zoo.list_models()``: the registered models, then the torchvision pattern."""
    prefix = _constants(_module("zoo", "models"))["TV_PREFIX"]
    return [*registrations("zoo", "register_model"), Entry(f"{prefix}<arch>")]


def datasets() -> list[Entry]:
    """``zoo.list_datasets()``: the keys of the ``DATASETS`` table."""
    for node in _module("zoo", "datasets").body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) else None)
        if (isinstance(target, ast.Name) and target.id == "DATASETS"
                and isinstance(node.value, ast.Dict)):
            names = (_string(k, {}, f"zoo/datasets.py:{node.lineno}")
                     for k in node.value.keys if k is not None)
            return [Entry(name) for name in sorted(names)]
    raise ValueError("zoo/datasets.py has no DATASETS table")


def suites() -> list[Entry]:
    """``bench.suite.list_suites()``: the shipped suite files."""
    return [Entry(name) for name in
            sorted(p.stem for p in (package_dir("bench") / "suites").glob("*.toml"))]


def index() -> list[Family]:
    """Every registry as ``auditbench list`` shows it, in that order."""
    return [
        Family("models", tuple(models())),
        Family("datasets", tuple(datasets())),
        Family("attacks", tuple(registrations("attacks", "register"))),
        Family("attribution", tuple(registrations("attribution", "register"))),
        Family("generative", tuple(registrations("generative", "register"))),
        Family("jobs", tuple(registrations("bench", "register_kind"))),
        Family("suites", tuple(suites())),
    ]
