"""Process lifetimes inside one memory series: where did the process restart?

A container series (Prometheus keeps one series across restarts) or a long `watch` can span
several lifetimes of the process. Each lifetime is classified on its own, and a series whose
lifetimes each climb before the restart is a restart loop: the worst leak there is, not a
sawtooth. A restart is taken from:

- the trace itself (`restart_times`, from `event` lines, a restart counter or a PID change);
- a large, sudden fall to the start-up level after the peaks came near the limit (>= 90%);
- a large, sudden fall to *below* the working floor of the process, over the whole series and over
  the lifetime it ends (a fresh process whose runtime has not allocated its heap yet), which a
  garbage collection cannot do, after a lifetime of at least RESTART_MIN_LIFETIME_S;
- repeated large, sudden falls to the start-up level from peaks more than GC_MAX_GROWTH times
  that level, after climbs of a minute or more: more than any garbage collector lets its heap
  grow between two collections, and slower than a program's own buffers swing.

Without any of these a restart loop is indistinguishable from a slow major-GC cycle, and is
left to the floor analysis.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np

from memdoctor.analysis.floor import find_drops
from memdoctor.analysis.prepare import Buckets
from memdoctor.analysis.thresholds import (
    BIRTH_LEVEL,
    GC_MAX_GROWTH,
    NEAR_LIMIT,
    RESTART_MIN_FALLS,
    RESTART_MIN_LIFETIME_S,
    RESTART_STARTUP_S,
)

REASON_RECORDED = "recorded in the trace"
REASON_LIMIT = "peaks reached the limit, then memory fell to the start-up level"
REASON_STARTUP = "memory fell below its working floor, to a start-up level"
REASON_NOT_GC = (f"memory climbed to more than {GC_MAX_GROWTH:g} times its start-up level and fell back to it, "
                 "again and again: more than a garbage collector lets a heap grow")


def birth_s(t: np.ndarray, lo: np.ndarray) -> float:
    """How long a series that starts at its process's birth takes to first reach its working floor (the 10th
    percentile of `lo`), at most the start-up a restarted process is allowed (RESTART_STARTUP_S, and a tenth
    of the span); 0 when the first value is already near that floor (a process attached to while running)."""
    if len(t) < 2:
        return 0.0
    work = float(np.percentile(lo, 10))
    if not float(lo[0]) < BIRTH_LEVEL * work:
        return 0.0
    most = min(RESTART_STARTUP_S, 0.1 * float(t[-1] - t[0]))
    reached = np.flatnonzero(lo >= work)
    return min(most, float(t[reached[0]] - t[0])) if len(reached) else most


def _climb_s(b: Buckets, lo: np.ndarray, start: int, top: int, low: float) -> float:
    """How long memory climbed before the fall at `top`: since it was last down at `low` (the level it falls
    back to), or since `start`. Measured from the segment's start instead, a batch job that swings 4x every
    second "climbed for a minute" once a minute of its cycles had passed, and each fall read as a restart."""
    down = np.flatnonzero(lo[start:top] <= low)
    return float(b.t[top] - b.t[start + int(down[-1]) if len(down) else start])


@dataclass(frozen=True)
class Segmentation:
    bounds: list[tuple[int, int]]  # [start, stop) bucket ranges, one per lifetime
    reasons: list[str] = field(default_factory=list)  # why each cut was made


def split(b: Buckets, *, limit: int | None, restart_times: np.ndarray | None) -> Segmentation:
    """Cut the bucket series at recorded and inferred restarts."""
    n = len(b.t)
    cuts: dict[int, str] = {}
    if restart_times is not None and len(restart_times):
        for i in np.searchsorted(b.t, np.sort(restart_times), side="left"):
            if 0 < int(i) < n:
                cuts[int(i)] = REASON_RECORDED
    known = sorted(cuts)
    lo, hi = b.lo, b.hi
    if n >= 8:
        base = float(np.percentile(lo, 1))
        work = float(np.percentile(lo, 10))
        drops, _, _ = find_drops(lo, max(float(np.median(lo)), 1.0))
        last_inferred = 0
        not_gc: list[int] = []  # falls only a restart explains, kept when they repeat
        for i in drops:
            j = int(i) + 1
            if j in cuts:
                continue
            k = bisect_right(known, j) - 1
            seg_start = max(known[k] if k >= 0 else 0, last_inferred)
            if j - seg_start < 3:
                continue
            peak = float(hi[seg_start:j].max())
            height = peak - base
            if height <= 0.3 * peak or lo[j] > base + 0.25 * height or hi[i] - lo[j] < 0.5 * height:
                continue
            climb_s = _climb_s(b, lo, seg_start, i, lo[j] + 0.25 * height)
            if limit is not None and peak >= NEAR_LIMIT * limit and climb_s >= RESTART_MIN_LIFETIME_S:
                # A climb of a minute or more, as for the falls below: a healthy Node server's GC ramps of 1.6 s,
                # peaking at 92 % of a limit given a little above them (--limit 85MB), read "14 restarts (peaks
                # reached the limit ...)", "restart loop ... 20.0 MiB/s" (tests/data/gate/node_healthy_server_20ms_a).
                cuts[j] = REASON_LIMIT
            elif (lo[j] < BIRTH_LEVEL * min(work, float(np.percentile(lo[seg_start:j], 10)))
                  and float(b.t[j] - b.t[seg_start]) >= RESTART_MIN_LIFETIME_S):
                # Below the working floor of the series and of the lifetime it ends: a cache filling under GC ramps
                # raises the series' floor after the fact, and a first collection, the recording having opened part
                # way up a ramp, fell below it to the floor of its time: "restart loop: 1 of 1 completed lifetimes
                # climbed" (4 of 100 benchmarks/classifier sawtooth_fill traces). A restarted process falls below
                # what the lifetime before it kept as its floor.
                # A lifetime, not a first batch: a program's first batch can climb and fall below the working
                # floor its later batches settle at (a Python job whose glibc heap keeps its first 40 MB; a
                # Node batch of Buffers freed before V8 sized its heap). Two seconds in, that fall read as a
                # restart, and the start-up before it as a completed lifetime that climbed: "restart loop".
                cuts[j] = REASON_STARTUP
            elif peak > GC_MAX_GROWTH * max(float(lo[j]), 1.0) and climb_s >= RESTART_MIN_LIFETIME_S:
                not_gc.append(j)
            else:
                continue
            last_inferred = j
        if len(not_gc) >= RESTART_MIN_FALLS:
            cuts.update(dict.fromkeys(not_gc, REASON_NOT_GC))
    starts = [0, *sorted(cuts)]
    bounds = [(s, e) for s, e in zip(starts, [*starts[1:], n], strict=True) if e > s]
    return Segmentation(bounds, [cuts[s] for s in sorted(cuts)])
