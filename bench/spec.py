"""What a job is: its kind and full config (``Job``), and what it produces (``JobOutput``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def canonical_json(obj: object) -> str:
    """The one serialisation a job id is hashed from: sorted keys, no whitespace."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Job:
    """One unit of work: a kind and every parameter it runs with (model, dataset, n, seed...).

    The id is a hash of exactly this config, so the same config always names the same job
    and a resumed run knows what it has already done.
    """

    kind: str
    params: dict[str, Any] = field(hash=False)

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.params}

    @property
    def id(self) -> str:
        digest = hashlib.sha256(canonical_json(self.config).encode()).hexdigest()
        return digest[:16]  # 64 bits: plenty for a suite, short enough to read in a table

    @property
    def label(self) -> str:
        """A short human name for progress bars and logs."""
        parts = [self.kind] + [
            str(self.params[k]) for k in ("model", "attack", "norm", "method")
            if k in self.params
        ]
        return " ".join(parts)


@dataclass
class JobOutput:
    """What a job function returns: tidy measurement rows and named arrays for the report.

    Each row needs ``metric`` and ``value``; any other key becomes a column of the store.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
