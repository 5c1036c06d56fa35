"""The toy section: the table of the ten coordinates and the clean and adversarial scores."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.kind import ArtifactLoader
from bench.kinds.toy.job import X_ADV, W, X


def build(rows: pd.DataFrame, artifact: ArtifactLoader) -> dict[str, Any] | None:
    """The first toy job's coordinates (``rows``), scores and probabilities."""
    if rows.empty:
        return None
    toy = rows[rows["job_id"] == rows["job_id"].iloc[0]]  # one toy is enough to show
    per_i = toy.dropna(subset=["i"]).pivot_table(index="i", columns="metric", values="value")
    scalars = toy[toy["i"].isna()].set_index("metric")["value"]
    table = [
        {"i": int(i), "x": r[X], "w": r[W], "x_adv": r[X_ADV], "wx": r[W] * r[X],
         "wx_adv": r[W] * r[X_ADV]}
        for i, r in per_i.iterrows()
    ]
    return {"rows": table, "eps": float(toy["eps"].iloc[0]), **scalars.to_dict()}
