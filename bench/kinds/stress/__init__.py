"""Kind ``stress``: one generative method on one model as a stress test (seconds per step,
peak memory, finiteness, improvement and determinism by image size and step count), and the
report's table and scaling figure (``section``). ``aim`` makes the one call of a method that
the jobs and the perf suite time."""

from __future__ import annotations

from bench.kind import Section, register_kind
from bench.kinds.stress import job, section

KIND = register_kind(
    "stress",
    run=job.run,
    check=job.check,
    random_weights=True,
    expand=("model", "method"),
    description="generative methods as stress tests: seconds/step, peak memory, finiteness, "
                "improvement and determinism by image size and step count",
    section=Section("Generative methods under stress", section.build,
                    Section.fragment(__file__), nav="Under stress"),
)
