"""The layering of docs/DESIGN.md, read off every import statement of the packages (those
inside functions too): zoo -> {attacks, attribution, generative} -> bench -> reports ->
auditbench, nothing pointing back, the three method packages blind to each other, and no
import cycle between modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("zoo", "attacks", "attribution", "generative", "bench", "reports", "auditbench")
#: what each package may import of the others
ALLOWED = {
    "zoo": set(),
    "attacks": {"zoo"},
    "attribution": {"zoo"},
    "generative": {"zoo"},
    "bench": {"zoo", "attacks", "attribution", "generative"},
    "reports": {"zoo", "bench"},
    "auditbench": {"zoo", "attacks", "attribution", "generative", "bench", "reports"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports(path: Path, known: set[str], here: str | None = None) -> set[str]:
    """The project modules a file (module ``here``) imports, anywhere in it:
    ``from a.b import c`` is module ``a.b.c`` when that is a module, else ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = here or module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                     for a in node.names]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in PACKAGES}
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(path, known) for name, path in found.items()}


def test_every_package_is_read() -> None:
    names = set(graph())
    for package in PACKAGES:
        assert package in names
    assert "bench.kinds.robustness.job" in names and "auditbench.cli" in names


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_the_layers_below(package: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items() if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] != package and target.split(".")[0] not in ALLOWED[package]
    )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_modules() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if target == node or target not in edges:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_check_catches_a_bench_module_importing_reports(tmp_path: Path) -> None:
    # what a real violation looks like: a lazy import inside a function of a bench module
    bad = tmp_path / "probe.py"
    bad.write_text("def f():\n    from reports import build_report\n    from . import store\n",
                   encoding="utf-8")
    found = imports(bad, set(modules()), here="bench.probe")
    assert found == {"reports", "bench.store"}
    assert "reports" not in ALLOWED["bench"]
