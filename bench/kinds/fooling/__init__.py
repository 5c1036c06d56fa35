"""Kind ``fooling``: targeted fooling images, every source class pushed to every target class;
the report's image grids (``section``)."""

from __future__ import annotations

import attacks
from bench.kind import Section, register_kind
from bench.kinds.fooling import job, section

KIND = register_kind(
    "fooling",
    run=job.run,
    expand=("model",),
    calls=attacks.fooling_grid,
    check=job.check,
    description="targeted fooling images, source class x target class",
    section=Section("Fooling images", section.build, Section.fragment(__file__)),
)
