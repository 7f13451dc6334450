"""The memory floor: troughs after each garbage collection, or per-window minima.

A healthy garbage-collected process draws a sawtooth: memory climbs while garbage piles up and
drops when it is collected. What a leak changes is the level it drops back to, so every trend
test runs on the *floor*, never on raw samples:

- When the series has clear drops (GC cycles, batch releases), the floor is the minimum between
  two consecutive drops (the "heap after GC" of JVM practice).
- Otherwise it is the minimum of equal time windows.

Either way it is reduced to at most `MAX_FLOOR_POINTS` points so the pairwise statistics stay
cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memdoctor.analysis.thresholds import GC_DRIFT_FRACTION
from memdoctor.analysis.trend import robust_sigma

MAX_FLOOR_POINTS = 256


@dataclass(frozen=True)
class Floor:
    t: np.ndarray  # time of each floor point (seconds, absolute)
    m: np.ndarray  # floor value (bytes)
    drops: np.ndarray  # bucket indices i with a drop between i and i+1
    drop_sizes: np.ndarray  # bytes
    from_troughs: bool  # True: troughs between drops; False: window minima
    cycle_s: float | None  # typical time between drops (GC period), when there are drops
    first_left_out: bool = False  # the first interval's minimum was left out (it starts mid-cycle)


def find_drops(lo: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Indices where the series falls sharply between consecutive points, by how much, and the
    noise sigma of the point-to-point changes.

    A drop is a fall larger than 5 noise sigmas of the point-to-point changes and than 3% of the
    memory level; a slow decline is not a drop.
    """
    if len(lo) < 3:
        return np.zeros(0, dtype=int), np.zeros(0), 0.0
    d = np.diff(lo)
    sigma = robust_sigma(d)
    thr = max(5.0 * sigma, 0.03 * level, 1.0)
    idx = np.flatnonzero(-d > thr)
    return idx, -d[idx], sigma


def window_minima(t: np.ndarray, lo: np.ndarray, k: int = MAX_FLOOR_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """The minima of at most k equal time windows, with the time of each minimum's first occurrence."""
    n = len(t)
    if n <= k:
        return t.copy(), lo.copy()
    edges = t[0] + (t[-1] - t[0]) * np.arange(k) / k
    starts = np.searchsorted(t, edges, side="left")
    keep = np.ones(len(starts), dtype=bool)
    keep[1:] = np.diff(starts) > 0
    starts = starts[keep & (starts < n)]
    return _group_min(t, lo, starts)


def _group_min(t: np.ndarray, lo: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum of each group [starts[g], starts[g+1]) and the time of its first occurrence."""
    mins = np.minimum.reduceat(lo, starts)
    lengths = np.diff(np.append(starts, len(lo)))
    hit = np.flatnonzero(lo == np.repeat(mins, lengths))
    group = np.searchsorted(starts, hit, side="right") - 1
    _, first = np.unique(group, return_index=True)
    return t[hit[first]], mins


def count_falls(drops: np.ndarray) -> int:
    """How many falls the drops make: drops in consecutive buckets are one fall spread over a few samples (one
    collection, one release). A Python job's one 390 MiB spike, falling over three samples, counted as
    "3 GC cycles" whose troughs "moved -2.2 GiB/s"."""
    return int(np.count_nonzero(np.diff(drops) != 1)) + 1 if len(drops) else 0


def falls_in_stages(t: np.ndarray, values: np.ndarray, landings: list[int]) -> np.ndarray:
    """Which falls are the first stage of a fall in stages (True: not a fall of their own), given the index of the
    first value after each fall (its landing), in increasing order.

    A garbage collection ends a cycle, and the next one climbs from where it landed: its trough lies under the
    climb. Where memory falls again before it has climbed half as far as that next fall, and within half the time its
    own cycle took to climb to the fall before (a pause, not a cycle of its own), the level between the two is a pause
    in one release, not a trough: numpy FFT batches that settled from 145 to 107 MiB for 0.5 s before falling to 28 MiB
    (after 1.2 s of climbing) made every few cycles a "trough" of 107 MiB, and a floor flat at 28 MiB read
    "inconclusive, 8.7 MiB/min" (a new program recorded, 2026-12-06). A leak's next trough lies above this one, so its
    cycles always climb more than half the next fall. The time bound is the cycle's own: with none, a deep one-off dip
    made the idle floors of the minute before it pauses of one fall (the bare floor test read 3 healthy periodic batches
    and a stable series as rising); with half the median time between falls, whether a pause merged depended on how
    many pauses the window held (a review: the same sawtooth merged its pauses at 89.4 s and not at 88.0 s).

    The last landing has no next fall to be measured against: where the window ends within the time bound after it and
    it landed above the floor before it by more than a quarter of the climb between them (GC_DRIFT_FRACTION: more than
    the troughs of a heap sizing itself move), it may be a pause whose second fall has not come, and it is left out
    too. Kept, it stood alone at the end of a floor whose other pauses had merged, and a healthy sawtooth ending
    mid-pause read "leak, 43 MiB/min" (the review: 58 of 432 such grid traces, 6 before the rule)."""
    n = len(landings)
    staged = np.zeros(n, dtype=bool)
    if n < 2:
        return staged

    climbs = np.diff(t[landings])

    def brief(k: int) -> float:
        """Half the time the cycle of landing k climbed, since the landing before it; for the first, whose climb began
        before the window, half the longest of the others' (the window's start cut it: a first pause kept while the
        later ones merged stood alone at the start of the floor and tilted it, and a 50 MiB/min leak read no-leak; the
        median of gaps that alternate between pauses and climbs is either, by how many the window holds)."""
        return 0.5 * float(climbs[k - 1] if k else climbs.max())

    last = n - 1
    before, top = float(values[landings[last - 1]]), float(values[landings[last - 1]:landings[last]].max())
    if (float(t[-1] - t[landings[last]]) < brief(last)
            and float(values[landings[last]]) - before > GC_DRIFT_FRACTION * (top - before)):
        staged[last] = True
    nxt = None if staged[last] else last  # the nearest later fall that is a fall of its own
    for k in range(last - 1, -1, -1):
        if nxt is not None and float(t[landings[nxt]] - t[landings[k]]) < brief(k):
            between = values[landings[k]:landings[nxt]]
            peak = float(between.max())
            if peak - float(between[0]) < 0.5 * (peak - float(values[landings[nxt]])):
                staged[k] = True
                continue
        nxt = k
    return staged


def compute_floor(t: np.ndarray, lo: np.ndarray, level: float, max_points: int = MAX_FLOOR_POINTS) -> Floor:
    """Floor points of one segment (t increasing, lo = per-bucket minima)."""
    drops, sizes, sigma = find_drops(lo, level)
    span = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    cycle = span / len(drops) if len(drops) else None
    # Real GC drops tower over the point-to-point noise; a sawtooth sampled slower than its period
    # (aliased) only has noise-sized "drops", and its window minima are the better floor.
    big = count_falls(drops) >= 2 and float(np.median(sizes)) >= max(0.10 * level, 10.0 * sigma)
    if big:
        starts = np.concatenate(([0], drops + 1))
        ft, fm = _group_min(t, lo, starts)
        first_left_out = len(ft) >= 6
        if first_left_out:
            # The first interval starts mid-cycle: its minimum is not a trough.
            ft, fm = ft[1:], fm[1:]
        if len(ft) > max_points:
            ft, fm = window_minima(ft, fm, max_points)
        return Floor(ft, fm, drops, sizes, True, cycle, first_left_out)
    ft, fm = window_minima(t, lo, max_points)
    return Floor(ft, fm, drops, sizes, False, cycle)


def peaks_above(t: np.ndarray, hi: np.ndarray, since: float, t0: float, m0: float, slope: float) -> float:
    """What memory adds on top of its floor: the 98th percentile of the peaks `hi` above the floor line
    m0 + slope * (t - t0) from `since` on (the recent part of the window), at least 0. The time to the limit
    leaves this much room under the limit (forecast.time_to_limit): a limit is hit at the peaks, not the floor."""
    rec = t >= since
    if not rec.any():
        return 0.0
    line = m0 + slope * (t[rec] - t0)
    return float(max(np.quantile(hi[rec] - line, 0.98), 0.0))
