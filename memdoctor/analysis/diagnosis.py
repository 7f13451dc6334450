"""The Diagnosis: what the growth analysis says about one memory series.

Its `to_dict()` is the `memdoctor analyze --json` contract of docs/architecture.md: keep the keys
stable and extend compatibly.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """Whether memory that should have been freed is being kept (the `verdict` of the contract)."""

    LEAK = "leak"
    NO_LEAK = "no-leak"
    INCONCLUSIVE = "inconclusive"


class Pattern(StrEnum):
    """The shape of the series (the `pattern` of the contract); a shape is not a verdict."""

    STABLE = "stable"
    PLATEAU = "plateau"
    SAWTOOTH = "sawtooth"
    LINEAR = "linear"
    STEP = "step"
    EXPONENTIAL = "exponential"


# StrEnum members are str: comparisons with "leak" and json.dumps keep the contract's strings.
VERDICTS = tuple(Verdict)
PATTERNS = tuple(Pattern)


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _span(value: float) -> float:
    """A time span as a JSON number: one between finite times can still overflow (1e308 - -1e308)."""
    if math.isnan(value):
        return 0.0
    return max(-sys.float_info.max, min(float(value), sys.float_info.max))


@dataclass(frozen=True)
class HeapGrowth:
    """What heap snapshots of the process say grows: one container, its rate over the snapshots,
    and in how many of the intervals between them it grew (a diff of three snapshots keeps only
    what grew in both, so 2)."""

    name: str
    bytes_per_s: float
    intervals: int
    # "snapshots": a container of a heap diff; "series": the trace's own runtime-heap series (V8's used
    # heap recorded beside RSS) that the one diagnosis, run on it, calls a leak.
    source: str = "snapshots"


@dataclass(frozen=True)
class Diagnosis:
    """Verdict and shape of one memory series, with the numbers behind them."""

    verdict: Verdict
    pattern: Pattern
    growth_bytes_per_s: float
    limit_bytes: int | None
    time_to_limit_s: float | None
    samples: int
    duration_s: float
    confidence: float
    evidence: list[str] = field(default_factory=list)
    # (low, high) band around time_to_limit_s, from the slope's confidence interval.
    time_to_limit_range_s: tuple[float | None, float | None] | None = None
    # When inconclusive: how much longer to watch before the question can be decided.
    watch_more_s: float | None = None
    # Memory floor at the first and last sample (bytes), for reports.
    floor_start_bytes: float | None = None
    floor_end_bytes: float | None = None
    last_bytes: float | None = None
    peak_bytes: float | None = None
    restarts: int = 0
    # The growth's interval (bytes/s; its level in extras["growth_interval_level"]).
    growth_low_bytes_per_s: float | None = None
    growth_high_bytes_per_s: float | None = None
    # The floor points the growth was measured on (for plots; not in the JSON).
    floor_t: tuple[float, ...] = ()
    floor_m: tuple[float, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Callers may pass the contract's strings; the fields always hold the enums (a frozen
        # dataclass: set through object.__setattr__). A name outside the contract is a bug.
        try:
            object.__setattr__(self, "verdict", Verdict(self.verdict))
        except ValueError:
            raise ValueError(f"verdict must be one of {[v.value for v in Verdict]}, not {self.verdict!r}") from None
        try:
            object.__setattr__(self, "pattern", Pattern(self.pattern))
        except ValueError:
            raise ValueError(f"pattern must be one of {[p.value for p in Pattern]}, not {self.pattern!r}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the `analyze --json` contract."""
        band = None
        if self.time_to_limit_range_s is not None:
            band = [_finite_or_none(v) for v in self.time_to_limit_range_s]
        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "pattern": self.pattern.value,
            "growth_bytes_per_s": _finite_or_none(self.growth_bytes_per_s) or 0.0,
            "limit_bytes": int(self.limit_bytes) if self.limit_bytes is not None else None,
            "time_to_limit_s": _finite_or_none(self.time_to_limit_s),
            "time_to_limit_range_s": band,
            "samples": int(self.samples),
            "duration_s": _span(self.duration_s),
            "confidence": round(float(min(1.0, max(0.0, self.confidence))), 3),
            "evidence": list(self.evidence),
            "watch_more_s": _finite_or_none(self.watch_more_s),
            "floor_start_bytes": _finite_or_none(self.floor_start_bytes),
            "floor_end_bytes": _finite_or_none(self.floor_end_bytes),
            "last_bytes": _finite_or_none(self.last_bytes),
            "peak_bytes": _finite_or_none(self.peak_bytes),
            "restarts": int(self.restarts),
        }
        out.update(self.extras)
        return out


_SEVERITY = {"leak": 0, "inconclusive": 1, "no-leak": 2}


def severity(d: Diagnosis) -> tuple[int, float]:
    """Sort key, worst first: leak, then inconclusive, then no-leak; within one verdict the faster growth.
    Which series of a multi-series input every command judges (the gate and the commands that take one)."""
    growth = d.growth_bytes_per_s if math.isfinite(d.growth_bytes_per_s) else 0.0
    return _SEVERITY.get(str(d.verdict), 3), -growth
