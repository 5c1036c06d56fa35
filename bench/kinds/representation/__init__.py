"""Kind ``representation``: what one model represents (first-layer filters, activations,
maximally activating patches, t-SNE and nearest neighbours of its penultimate features,
occlusion maps), one job per model; the report's figures (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.representation import job, section

KIND = register_kind(
    "representation",
    run=job.run,
    expand=("model",),
    description="filters, activations, max-activating patches, t-SNE, neighbours, occlusion",
    section=Section("What the network represents", section.build, Section.fragment(__file__),
                    nav="Representations"),
)
