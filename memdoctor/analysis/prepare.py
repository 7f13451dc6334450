"""Cleaning and decimation of a raw memory series, in O(n) time and bounded extra memory.

The classifier never looks at more than `MAX_BUCKETS` points: the trace is cut into equal time
buckets and each bucket keeps its minimum and maximum (the floor and the peaks survive
decimation, which a plain subsample or mean would lose). Buckets without samples (gaps) are
simply absent, so irregular and gappy sampling need no special case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAX_BUCKETS = 4096
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Clean:
    t: np.ndarray  # sorted, unique, finite seconds
    m: np.ndarray  # finite, >= 0 bytes
    dropped_invalid: int  # NaN / inf / negative memory or non-finite time
    dropped_duplicates: int  # repeated timestamps (the first sample is kept)
    was_unsorted: bool


@dataclass(frozen=True)
class Buckets:
    t: np.ndarray  # representative time of each non-empty bucket
    lo: np.ndarray  # minimum memory in the bucket
    hi: np.ndarray  # maximum memory in the bucket
    first: np.ndarray  # first raw index of the bucket
    dt: float  # typical spacing of the points (median)


def _all_chunks(pred: Callable[..., np.ndarray], *arrays: np.ndarray) -> bool:
    """pred(*chunks).all() over chunks, so a 10M-sample check needs no 10M-sized temporaries."""
    n = len(arrays[0])
    return all(bool(pred(*(a[s : s + _CHUNK] for a in arrays)).all()) for s in range(0, n, _CHUNK))


def _is_increasing(t: np.ndarray) -> bool:
    n = len(t)
    for start in range(0, max(n - 1, 0), _CHUNK):
        stop = min(start + _CHUNK + 1, n)
        if not bool((np.diff(t[start:stop]) > 0).all()):
            return False
    return True


def clean(t_in: object, m_in: object) -> Clean:
    """Finite, non-negative, time-sorted samples with unique timestamps; counts what was dropped."""
    t = np.asarray(t_in, dtype=float).ravel()
    m = np.asarray(m_in, dtype=float).ravel()
    if len(t) != len(m):
        n = min(len(t), len(m))
        t, m = t[:n], m[:n]
    invalid = 0
    if not _all_chunks(lambda a, b: np.isfinite(a) & np.isfinite(b) & (b >= 0), t, m):
        ok = np.isfinite(t) & np.isfinite(m) & (m >= 0)
        invalid = int(len(t) - np.count_nonzero(ok))
        t, m = t[ok], m[ok]
    unsorted = False
    duplicates = 0
    if not _is_increasing(t):
        order = np.argsort(t, kind="stable")
        unsorted = bool((np.diff(order) < 0).any())
        t, m = t[order], m[order]
        keep = np.ones(len(t), dtype=bool)
        keep[1:] = np.diff(t) > 0
        duplicates = int(len(t) - np.count_nonzero(keep))
        if duplicates:
            t, m = t[keep], m[keep]
    return Clean(t, m, invalid, duplicates, unsorted)


def decimate(t: np.ndarray, m: np.ndarray, max_buckets: int = MAX_BUCKETS) -> Buckets:
    """Per-bucket min/max over equal time buckets (the raw points when there are few)."""
    n = len(t)
    if n <= max_buckets:
        idx = np.arange(n)
        dt = float(np.median(np.diff(t))) if n > 1 else 0.0
        return Buckets(t.copy(), m.copy(), m.copy(), idx, dt)
    t0, t1 = float(t[0]), float(t[-1])
    edges = t0 + (t1 - t0) * np.arange(max_buckets) / max_buckets
    starts = np.searchsorted(t, edges, side="left")
    keep = np.ones(len(starts), dtype=bool)
    keep[1:] = np.diff(starts) > 0
    starts = starts[keep & (starts < n)]
    lo = np.minimum.reduceat(m, starts)
    hi = np.maximum.reduceat(m, starts)
    ends = np.append(starts[1:], n) - 1
    bt = 0.5 * (t[starts] + t[ends])
    dt = float(np.median(np.diff(bt))) if len(bt) > 1 else 0.0
    return Buckets(bt, lo, hi, starts, dt)
