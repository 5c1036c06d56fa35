"""Kind ``attribution``: the maps of every chosen attribution method on the same test images,
one job per model; the report's map grids (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.attribution import job, section
from bench.kinds.checks import attribution_check

KIND = register_kind(
    "attribution",
    run=job.run,
    check=attribution_check("attribution"),
    expand=("model",),
    description="attribution maps of every chosen method on the same test images",
    section=Section("Where the model looks: attribution maps", section.build,
                    Section.fragment(__file__), nav="Attribution maps"),
)
