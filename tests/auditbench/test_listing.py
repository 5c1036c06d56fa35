"""The static index of ``auditbench list`` (``auditbench.listing``, read off the source) is
the registries as they are after import: every name of every registry, and every method's
paper, so that the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditbench import listing


def runtime_index() -> dict[str, list[tuple[str, str | None]]]:
    """Each registry's names (and methods' papers) after importing the real packages."""
    import attacks
    import attribution
    import generative
    import zoo
    from bench.kind import list_kinds
    from bench.suite import list_suites  # imports bench.kinds, which registers the kinds
    from zoo.methods import Method

    def methods(names: list[str], get: Callable[[str], Method]) -> list[tuple[str, str | None]]:
        return [(name, get(name).paper) for name in names]

    def plain(names: list[str]) -> list[tuple[str, str | None]]:
        return [(name, None) for name in names]

    return {
        "models": plain(zoo.list_models()),
        "datasets": plain(zoo.list_datasets()),
        "attacks": methods(attacks.list_attacks(), attacks.get_attack),
        "attribution": methods(attribution.list_methods(), attribution.get_method),
        "generative": methods(generative.list_methods(), generative.get_method),
        "jobs": plain(list_kinds()),
        "suites": plain(list_suites()),
    }


def test_static_index_equals_the_runtime_registries() -> None:
    static = {f.label: [(e.name, e.paper) for e in f.entries] for f in listing.index()}
    runtime = runtime_index()
    assert list(static) == list(runtime)  # the same registries, in the order shown
    for label, entries in runtime.items():
        assert static[label] == entries, label
    assert all(paper for label in ("attacks", "attribution", "generative")
               for _, paper in static[label])


def test_a_computed_name_is_an_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "plugin_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text(
        'NAME = "mine"\n\n@register(NAME, paper="Me 2024")\ndef mine(): ...\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert listing.registrations("plugin_pkg", "register") == [
        listing.Entry("mine", "Me 2024")]
    (package / "bad.py").write_text('@register("x" + "y", paper="Me 2024")\ndef xy(): ...\n')
    with pytest.raises(ValueError, match=r"bad\.py:1: a registered name must be a literal"):
        listing.registrations("plugin_pkg", "register")
