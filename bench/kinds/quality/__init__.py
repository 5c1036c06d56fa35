"""Kind ``quality``: is the map any good? Deletion and insertion, the randomisation check,
fragility and (on datasets with object masks) localisation of every chosen attribution
method, one job per model; the report's curves and score table (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.checks import attribution_check
from bench.kinds.quality import job, section

KIND = register_kind(
    "quality",
    run=job.run,
    check=attribution_check("quality"),
    expand=("model",),
    description="deletion/insertion, randomisation check, localisation, fragility of maps",
    section=Section("Is the map any good?", section.build, Section.fragment(__file__),
                    nav="Map quality"),
)
