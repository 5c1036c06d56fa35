"""The sanity section: per model, each check's verdict, value and detail."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.kind import ArtifactLoader
from bench.kinds.sanity.job import CHECK_VALUE, PASSED


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> list[dict[str, Any]]:
    """One entry per sanity job: its model, checks, and how many passed."""
    out = []
    for _, job in rows.groupby("job_id", sort=False):
        passed = job[job["metric"] == PASSED]
        values = job[job["metric"] == CHECK_VALUE].set_index("check")["value"]
        checks = [
            {"name": r["check"], "passed": bool(r["value"]), "detail": r.get("detail") or "",
             "value": values.get(r["check"])}
            for _, r in passed.iterrows()
        ]
        out.append({
            "model": job["model_label"].iloc[0], "checks": checks,
            "passed": sum(c["passed"] for c in checks), "total": len(checks),
            "eps": float(job["eps"].iloc[0]) if "eps" in job else None,
        })
    return out
