"""What both halves of the audit card share: eps tolerance, norm order, eps spelling.

``reports.card`` computes the card and ``reports.card_format`` presents it; both import from
here so that neither has to import the other at module load.
"""

from __future__ import annotations

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
