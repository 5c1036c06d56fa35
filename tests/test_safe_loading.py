"""Every ``torch.load`` in the packages passes ``weights_only=True``: without it a checkpoint
is an arbitrary pickle, and loading a file an auditor did not write would run its code.

The check reads the source with ``ast`` (no import, so it sees code paths no test runs):
``torch.load(...)`` under any alias of ``torch``, ``torch.serialization.load``, ``load``
imported from ``torch`` and ``getattr(torch, "load")`` (whose call the check cannot see, so
it is refused outright). ``torch.jit.load`` and ``torch.export.load`` take no
``weights_only``; they are kept to the one reviewed module that loads user archives."""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "attacks", "attribution", "generative", "bench", "reports", "auditbench")
#: the only module allowed to call torch.jit.load / torch.export.load (it loads user archives
#: and its tests feed it hostile files); a new call elsewhere needs the same review
ARCHIVE_LOADERS = {"zoo/user_archive.py"}
TORCH_MODULES = {"torch", "torch.serialization"}


@dataclass(frozen=True)
class Finding:
    where: str  # file:line
    what: str   # "unsafe torch.load", "archive load torch.jit.load", ...


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``a.b.c`` as a string with its first name resolved through the imports, or None."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "getattr" and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            parts.append(node.args[1].value)  # getattr(torch, "jit", None) is torch.jit
            node = node.args[0]
        else:
            break
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _imports(tree: ast.AST) -> dict[str, str]:
    """Local name -> what it stands for (``import torch as t`` -> t: torch;
    ``from torch import load as l`` -> l: torch.load), anywhere in the module."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _weights_only_true(call: ast.Call) -> bool:
    return any(k.arg == "weights_only" and isinstance(k.value, ast.Constant)
               and k.value.value is True for k in call.keywords)


def check_source(source: str, name: str) -> list[Finding]:
    """Every torch load in ``source`` that is unsafe or an archive load, with file:line."""
    tree = ast.parse(source, filename=name)
    aliases = _imports(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        where = f"{name}:{node.lineno}"
        target = _dotted(node.func, aliases)
        if target in {f"{m}.load" for m in TORCH_MODULES}:
            if not _weights_only_true(node):
                found.append(Finding(where, f"unsafe {target} (no weights_only=True)"))
        elif target in {"torch.jit.load", "torch.export.load"}:
            found.append(Finding(where, f"archive load {target}"))
        elif (target == "getattr" and len(node.args) >= 2
              and _dotted(node.args[0], aliases) in TORCH_MODULES | {"torch.jit", "torch.export"}
              and isinstance(node.args[1], ast.Constant) and node.args[1].value == "load"):
            base = _dotted(node.args[0], aliases)
            kind = "archive load" if base in {"torch.jit", "torch.export"} else "unsafe"
            found.append(Finding(where, f"{kind} getattr({base}, 'load')"))
    return found


@functools.cache
def package_findings() -> tuple[Finding, ...]:
    """The findings in every module of the packages (read once per session)."""
    found: list[Finding] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            found += check_source(path.read_text(encoding="utf-8"), rel)
    return tuple(found)


def test_every_torch_load_passes_weights_only_true() -> None:
    unsafe = [f"{f.where}: {f.what}" for f in package_findings() if f.what.startswith("unsafe")]
    assert unsafe == []


def test_archive_loads_stay_in_the_reviewed_module() -> None:
    archive = [f for f in package_findings() if f.what.startswith("archive")]
    assert archive, "the user-archive loader moved: update ARCHIVE_LOADERS and this test"
    outside = [f"{f.where}: {f.what}" for f in archive
               if f.where.rsplit(":", 1)[0] not in ARCHIVE_LOADERS]
    assert outside == []


def test_the_packages_are_all_read() -> None:
    # a renamed package would silently leave the check with nothing to read
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package
    assert "weights_only=True" in (ROOT / "zoo" / "checkpoint.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("snippet", [
    "import torch\ntorch.load(f)\n",
    "import torch\ntorch.load(f, weights_only=False)\n",
    "import torch\ntorch.load(f, weights_only=flag)\n",  # not a literal True
    "import torch\ntorch.load(f, **{'weights_only': True})\n",
    "import torch as t\nt.load(f, map_location='cpu')\n",
    "from torch import load\nload(f)\n",
    "from torch import load as read\nread(f, weights_only=False)\n",
    "import torch.serialization\ntorch.serialization.load(f)\n",
    "from torch import serialization\nserialization.load(f)\n",
    "import torch\nopen_ = getattr(torch, 'load')\n",
])
def test_the_checker_catches_an_unsafe_load(snippet: str) -> None:
    found = check_source(snippet, "bad.py")
    assert [f.what.split()[0] for f in found] == ["unsafe"]
    assert found[0].where == f"bad.py:{len(snippet.splitlines())}"


@pytest.mark.parametrize("snippet", [
    "import torch\ntorch.load(f, map_location='cpu', weights_only=True)\n",
    "from torch import load\nload(f, weights_only=True)\n",
    "import pickle\npickle.load(f)\n",  # not torch's (other rules cover pickle)
    "import numpy as np\nnp.load(f)\n",
])
def test_the_checker_passes_a_safe_load(snippet: str) -> None:
    assert check_source(snippet, "ok.py") == []


def test_the_checker_notes_archive_loads() -> None:
    found = check_source("import torch\ntorch.jit.load(p)\ntorch.export.load(p)\n", "a.py")
    assert [f.what for f in found] == ["archive load torch.jit.load",
                                       "archive load torch.export.load"]
