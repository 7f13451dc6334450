"""The pytest plugin's per-run budget: is a test leaving memory behind at every run?

A different question from the diagnosis of a memory series (engine.py): a marked test runs a few
times in one process, and what each run leaves behind (allocations still alive after it) is
accounted. A handful of points, no GC cycle, no time axis: the question is a budget per run, as
`gate --max-growth` is a budget per minute, and it is answered here so the plugin computes nothing
of its own. The slope is the one trend module's Theil-Sen (trend.mann_kendall_sen), robust to one
odd run (a lazy import, a cache filled once).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from memdoctor.analysis.thresholds import PER_RUN_MIN_RISING_SHARE, PER_RUN_RISE_SHARE
from memdoctor.analysis.trend import mann_kendall_sen


@dataclass(frozen=True)
class PerRunVerdict:
    """The judgement of the memory left behind after each run against a budget per run."""

    slope_bytes: float  # Theil-Sen slope of retained memory per run
    rising: int  # runs that left more than PER_RUN_RISE_SHARE of the budget behind
    steps: int  # runs judged (after the warm-up)
    failed: bool


def sen_slope_per_run(values: list[float]) -> float:
    """Median of the slopes between every pair of points (x = run index)."""
    if len(values) < 2:
        return 0.0
    return mann_kendall_sen(np.arange(len(values), dtype=float), np.asarray(values, dtype=float),
                            correct=False).slope


def judge_runs(retained: list[float], max_growth_bytes: float) -> PerRunVerdict:
    """Retained bytes after each run (the first entry right after the warm-up run) against a budget per run:
    failed when the slope is over the budget and at least PER_RUN_MIN_RISING_SHARE of the runs rose."""
    slope = sen_slope_per_run(retained)
    steps = len(retained) - 1
    rising = sum(1 for a, b in pairwise(retained) if b - a > PER_RUN_RISE_SHARE * max_growth_bytes)
    failed = steps > 0 and slope > max_growth_bytes and rising >= PER_RUN_MIN_RISING_SHARE * steps
    return PerRunVerdict(slope, rising, steps, failed)
