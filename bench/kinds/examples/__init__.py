"""Kind ``examples``: a few adversarial examples per model, attack and norm, with the model's
predictions; the report's image grids (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.examples import job, section

KIND = register_kind(
    "examples",
    run=job.run,
    expand=("model", "attack", "norm"),
    description="a few clean / adversarial / perturbation images with predictions",
    section=Section("Adversarial examples", section.build, Section.fragment(__file__)),
)
