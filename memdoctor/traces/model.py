"""The Trace: a memory series over time, as plain typed data.

Every source (the /proc sampler, the CSV and JSONL readers, later the importers) produces a
Trace; every analysis reads one. Times are float seconds since the start of the recording,
sizes float bytes (float so that a missing value can be NaN in an optional series).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Sample keys that hold sizes in bytes or counts; anything else in a sample is ignored.
# usage, cache, anon, kernel: a cgroup's (watch --cgroup), judged with --metric as the others.
# The largest memory reading a trace can hold: 2**57 bytes (128 PiB), the largest virtual address space
# Linux gives one process (57-bit addresses, five-level paging on x86-64; arm64 has at most 52 bits). No
# reading of a process's, a tree's or a container's memory exceeds it: a sample above it is not a
# measurement (a review's 1e30-byte trace read "leak, 909494701772928256.0 TiB/s" and compare exited 0
# on it). Such samples are skipped like unreadable lines, and counted.
MAX_MEMORY_BYTES = float(2**57)
SERIES_KEYS = ("rss", "rss_root", "uss", "pss", "swap", "fds", "threads", "procs", "heap", "usage", "cache", "anon",
               "kernel")


@dataclass
class Trace:
    """One memory series with its optional companions and the recording's metadata."""

    t: np.ndarray
    rss: np.ndarray
    header: dict[str, Any] = field(default_factory=dict)
    # Optional series by key (uss, pss, fds, ...): same length as t, NaN where not sampled.
    series: dict[str, np.ndarray] = field(default_factory=dict)
    # (time, name) of events such as "restart" or "oom_kill".
    events: list[tuple[float, str]] = field(default_factory=list)
    # Rows that could not be read and were skipped (counted in the evidence).
    skipped_rows: int = 0
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    # Samples in the input; more than len(t) when a huge input was thinned while read.
    samples_read: int = 0

    @property
    def limit_bytes(self) -> int | None:
        value = self.header.get("limit_bytes")
        return int(value) if isinstance(value, (int, float)) and value > 0 else None

    def __post_init__(self) -> None:
        if not self.samples_read:
            self.samples_read = len(self)

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def metric(self, name: str) -> np.ndarray:
        """The series called `name` ("rss" or an optional one)."""
        if name == "rss":
            return self.rss
        if name not in self.series:
            available = ", ".join(["rss", *sorted(self.series)])
            raise KeyError(f"the trace has no {name!r} series (it has: {available})")
        return self.series[name]

    def event_times(self, *names: str) -> np.ndarray:
        return np.asarray([t for t, name in self.events if not names or name in names], dtype=float)
