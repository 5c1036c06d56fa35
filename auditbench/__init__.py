"""auditbench: the composition root. The ``auditbench`` command line (``auditbench.cli``) and
the Python API on top of every other package:

- ``run_suite(suite, run_dir)`` runs a suite (a TOML path, a shipped suite's name, or the
  same structure as a dict) into a run directory, writes its report, and returns every
  stored measurement as a pandas DataFrame;
- the extension points: ``attacks.register``, ``attribution.register``,
  ``generative.register`` for methods, and ``register_kind`` (with ``Section``) for job
  kinds; ``docs/DESIGN.md`` has a recipe for each.
"""

from auditbench.api import run_suite
from bench.kind import Section, register_kind

__all__ = ["Section", "register_kind", "run_suite"]
