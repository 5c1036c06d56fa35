"""Kind ``toy``: the linear toy example of CS231n lecture 9 (no model, no data); the report's
table of its ten coordinates and scores (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.toy import job, section

KIND = register_kind(
    "toy",
    run=job.run,
    description="the linear toy example of CS231n lecture 9",
    section=Section("The linear toy example", section.build, Section.fragment(__file__),
                    nav="Linear toy"),
)
