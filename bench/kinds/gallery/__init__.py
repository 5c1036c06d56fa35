"""Kind ``gallery``: the lecture's images made by optimisation for one model (class models per
regulariser, channel visualisations, inversion by depth, a dream, a stylised photo), and the
report's figures of them (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.gallery import job, section

KIND = register_kind(
    "gallery",
    run=job.run,
    random_weights=True,
    expand=("model",),
    description="class models with and without each regulariser, channel visualisations, "
                "inversions by depth, a dream and a stylised photo",
    section=Section("Images made by optimisation", section.build, Section.fragment(__file__),
                    nav="Optimisation images"),
)
