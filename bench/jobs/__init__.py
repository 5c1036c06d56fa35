"""Job kinds: one small module per kind, each exposing ``SPEC`` (its parameters and ``run``)."""

from __future__ import annotations

from bench.jobs import (
    agreement,
    dimension,
    examples,
    fooling,
    gallery,
    maps,
    quality,
    representation,
    robustness,
    sanity,
    stress,
    toy,
)
from bench.spec import KindSpec

KINDS: dict[str, KindSpec] = {
    m.SPEC.name: m.SPEC
    for m in (representation, maps, agreement, quality, gallery, stress, toy, dimension,
              robustness, examples, fooling, sanity)
}

__all__ = ["KINDS"]
