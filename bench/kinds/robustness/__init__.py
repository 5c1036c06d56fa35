"""Kind ``robustness``: robust accuracy vs eps for one model, attack and norm, the eps grid
inside one job; the report's curves and table (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.robustness import job, section

KIND = register_kind(
    "robustness",
    run=job.run,
    expand=("model", "attack", "norm"),
    description="robust accuracy vs eps: model x attack x norm, eps grid in one job",
    section=Section("Robust accuracy vs ε", section.build, Section.fragment(__file__),
                    nav="Robustness curves"),
)
