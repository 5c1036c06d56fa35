"""auditbench: the composition root. The ``auditbench`` command line (``auditbench.cli``) and
the Python API on top of every other package:

- ``run_suite(suite, run_dir)`` runs a suite (a TOML path, a shipped suite's name, or the
  same structure as a dict) into a run directory, writes its report, and returns every
  stored measurement as a pandas DataFrame;
- the extension points: ``attacks.register``, ``attribution.register``,
  ``generative.register`` for methods, and ``register_kind`` (with ``Section``) for job
  kinds; ``docs/DESIGN.md`` has a recipe for each.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Section", "register_kind", "run_suite"]


def __getattr__(name: str) -> Any:
    """The API's names, imported on first use: the command line imports this package too, and
    ``auditbench --help`` should not wait for PyTorch."""
    if name == "run_suite":
        from auditbench.api import run_suite

        return run_suite
    if name in ("Section", "register_kind"):
        import bench.kind

        return getattr(bench.kind, name)
    raise AttributeError(f"module 'auditbench' has no attribute {name!r}")
