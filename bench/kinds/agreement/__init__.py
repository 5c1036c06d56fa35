"""Kind ``agreement``: every chosen attribution method against Captum's implementation on the
same test images, one job per model; the report's comparison table (``section``)."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.agreement import job, section
from bench.kinds.checks import attribution_check

KIND = register_kind(
    "agreement",
    run=job.run,
    check=attribution_check("agreement"),
    expand=("model",),
    description="each attribution method against Captum's implementation, element-wise",
    section=Section("Agreement with Captum", section.build, Section.fragment(__file__),
                    nav="Captum agreement"),
)
