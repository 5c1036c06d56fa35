"""Kind ``dimension``: score shift vs dimension (Goodfellow et al. 2015) and the margin shift
of a linear MNIST model; the report's two-panel figure (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.dimension import job, section

KIND = register_kind(
    "dimension",
    run=job.run,
    description="score shift vs dimension (Goodfellow et al. 2015) and a linear MNIST model",
    section=Section("Why high dimension makes linear models fragile", section.build,
                    Section.fragment(__file__), nav="Dimension"),
)
