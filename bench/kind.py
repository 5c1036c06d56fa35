"""Job kinds: what a suite's ``[[task]]`` can ask for. A kind is one function and its report
section, registered by name with ``register_kind``.

The run function is ``run(ctx, *, model, n, ..., **settings) -> JobOutput``. Its keyword-only
parameters are the kind's parameters (``bench.schema`` reads their checks off the
annotations; a default other than ``None`` is part of every job config, ``None`` means
"only when a suite gives it"). A parameter annotated ``Names(registry)`` names methods of that
registry, whose settings arrive in ``**settings``; so do the settings of the one library
function a kind may declare it ``calls``. A kind that reads test images takes ``dataset``,
``n`` and ``seed``.

The section turns the kind's stored rows into what its template fragment shows on the page
(``reports`` puts the sections together); metric names are constants of the kind's module,
imported by whoever reads them.

A kind whose suite keys depend on the model (a layer's name, class indices, a size in
pixels) gives ``check(params, model, ctx)``: preflight calls it for every job with the job's
model loaded, before the first job runs, and it raises ``ValueError`` naming the key, the value
and what the model has. ``random_weights``: the kind's jobs run (and say so) on a torchvision
model whose weights file is missing; every other kind needs the file, checked before the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from zoo.methods import Method
from zoo.params import Param, keyword_params
from zoo.registry import Registry

if TYPE_CHECKING:
    from bench.context import RunContext
    from bench.spec import JobOutput

ArtifactLoader = Callable[[str, str], dict[str, np.ndarray]]
#: ``check(params, model, ctx)``: see the module doc
ModelCheck = Callable[[Mapping[str, Any], Any, "RunContext"], None]


@dataclass(frozen=True)
class Section:
    """A kind's part of the report.

    ``build(rows, artifact)`` gets the kind's result rows of the run's current suite (a
    DataFrame, one row per measurement) and a loader of its stored arrays, and returns what
    the template shows as ``section`` (``None`` or empty when there is nothing to show).
    ``template`` is jinja2 source, autoescaped; ``title`` heads the section and its link.
    """

    title: str
    build: Callable[[pd.DataFrame, ArtifactLoader], Any]
    template: str
    nav: str = ""  # the link's text, when shorter than the title

    @staticmethod
    def fragment(module_file: str, name: str = "section.html") -> str:
        """The template source in the file ``name`` beside ``module_file``."""
        return (Path(module_file).parent / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Kind:
    """One registered job kind (see the module doc)."""

    name: str
    run: Callable[..., JobOutput]
    params: Mapping[str, Param]
    expand: tuple[str, ...] = ()
    description: str = ""
    section: Section | None = None
    calls: Method | None = None
    check: ModelCheck | None = None
    random_weights: bool = False

    @property
    def uses_data(self) -> bool:
        """Its jobs read ``n`` test images of a dataset, drawn with ``seed``."""
        return "dataset" in self.params

    def __call__(self, ctx: RunContext, **params: Any) -> JobOutput:
        return self.run(ctx, **params)


KINDS: Registry[Kind] = Registry("job kind")


def register_kind(
    name: str, *, run: Callable[..., JobOutput], expand: tuple[str, ...] = (),
    description: str = "", section: Section | None = None,
    calls: Callable[..., Any] | None = None, check: ModelCheck | None = None,
    random_weights: bool = False,
) -> Kind:
    """Add a job kind (see the module doc); ``expand``: parameters whose list value in a
    suite gives one job per value; ``calls``: a library function the run function passes
    ``**settings`` on to, whose keyword-only parameters (those the kind does not take itself)
    are then suite keys of the kind, checked by its signature; ``check`` and
    ``random_weights``: see the module doc. Returns the kind."""
    params = keyword_params(run)
    unknown = sorted(set(expand) - set(params))
    if unknown:
        raise ValueError(f"job kind {name!r}: expand names {unknown[0]!r}, which is not a "
                         "parameter of its run function")
    method = None
    if calls is not None:
        own = keyword_params(calls)
        method = Method(name=calls.__name__, fn=calls, paper="", params=own,
                        protocol=frozenset(set(own) & set(params)))
    return KINDS.add(name, Kind(name, run, params, tuple(expand), description, section,
                                method, check, random_weights))


def get_kind(name: object) -> Kind:
    return KINDS.get(name)


def list_kinds() -> list[str]:
    return KINDS.names()
