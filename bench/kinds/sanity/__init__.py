"""Kind ``sanity``: Carlini et al.'s checks that an attack evaluation is not fooling itself;
the report's table of checks per model (``section``). The audit card reads its metrics."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.sanity import job, section

KIND = register_kind(
    "sanity",
    run=job.run,
    expand=("model",),
    description="Carlini et al. 2019 sanity checks of the attack evaluation",
    section=Section("Sanity checks of the evaluation", section.build,
                    Section.fragment(__file__), nav="Sanity checks"),
)
