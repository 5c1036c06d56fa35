"""Kind ``minimal``: per example the smallest adversarial perturbation a minimal-perturbation
attack (FAB, DeepFool, Carlini-Wagner) finds, its distribution, and the robust-accuracy curve
read off it; the report's distribution figure and table (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.minimal import job, section

KIND = register_kind(
    "minimal",
    run=job.run,
    expand=("model", "attack", "norm"),
    description="smallest adversarial perturbations: model x minimal attack x norm, "
                "robust accuracy at every eps of the grid read off them",
    section=Section("Minimal adversarial perturbations", section.build,
                    Section.fragment(__file__), nav="Minimal perturbations"),
)
