"""What the parts of the audit card share: eps tolerance, norm order, eps spelling, and
the small helpers that read stored values (missing as ``None``, numpy scalars as Python).

``reports.card`` computes the card and ``reports.card_format`` presents it; both import from
here so that neither has to import the other at module load.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.kind import ArtifactLoader  # noqa: F401  (re-exported for the card's modules)

EPS_TOL = 1e-6  # a suite's eps grid may spell 8/255 as a decimal
NORM_ORDER = ("linf", "l2", "l1")


def norm_key(norm: str) -> tuple[int, str]:
    """Sort key putting the known norms first, in ``NORM_ORDER``, then the rest by name."""
    return (NORM_ORDER.index(norm) if norm in NORM_ORDER else 99, norm)


def format_eps(eps: float) -> str:
    """``0.3`` -> ``0.3``; ``8/255`` (or its decimal) -> ``8/255``.

    A value with a short decimal (0.2 is 51/255 too) is shown as the decimal.
    """
    if abs(eps - round(eps, 3)) <= 1e-12:
        return f"{eps:g}"
    k = round(eps * 255)
    if abs(eps - k / 255) <= EPS_TOL:
        return f"{k}/255"
    return f"{eps:.4g}"


# --- reading stored values ------------------------------------------------------------------

def column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df else pd.Series([None] * len(df), index=df.index, dtype=object)


def is_number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def first_valid(*values: object) -> object:
    return next((v for v in values if not missing(v)), None)


def as_int(value: object) -> int | None:
    return None if missing(value) else int(value)  # type: ignore[call-overload]


def as_float(value: object) -> float | None:
    if missing(value):
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def plain_scalar(value: object) -> object:
    if missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)  # seeds come back from SQLite as floats next to NaN
    return value
