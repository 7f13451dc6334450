"""Worst first: the order of a ranked list of diagnosed series (pure functions)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from memdoctor.analysis import Diagnosis

VERDICT_ORDER = {"leak": 0, "inconclusive": 1, "no-leak": 2}


@dataclass
class RankedSeries:
    """One analysed series: its name, labels (Prometheus) and diagnosis."""

    name: str
    diagnosis: Diagnosis
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.labels:
            out["labels"] = dict(self.labels)
        out.update(self.diagnosis.to_dict())
        return out


def rank_key(d: Diagnosis) -> tuple[int, float, float]:
    """Leaks first; then the soonest at its limit; then the fastest-growing floor."""
    ttl = d.time_to_limit_s if d.time_to_limit_s is not None and math.isfinite(d.time_to_limit_s) else math.inf
    growth = d.growth_bytes_per_s if math.isfinite(d.growth_bytes_per_s) else 0.0
    return VERDICT_ORDER.get(d.verdict, 3), ttl, -growth


def rank(rows: list[RankedSeries]) -> list[RankedSeries]:
    """The rows, worst first (stable: equal rows keep their input order)."""
    return sorted(rows, key=lambda r: rank_key(r.diagnosis))


def summary(rows: list[RankedSeries]) -> dict[str, int]:
    counts = {"leak": 0, "inconclusive": 0, "no-leak": 0}
    for row in rows:
        counts[row.diagnosis.verdict] = counts.get(row.diagnosis.verdict, 0) + 1
    return counts
