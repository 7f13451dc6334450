"""Baseline leak detectors run beside memdoctor on the same traces.

Each takes (t, mem, limit) and returns (is_leak, time_to_limit_s or None). They follow the
published descriptions (docs/benchmarks.md has the references):

- `lbr`: linear backward regression (Jindal et al.): OLS over a window grown backwards from the
  newest sample; leak when the longest window with R^2 >= 0.8 has a positive slope and (with a
  limit) reaches it within a critical time (7 days here).
- `raw_mk`: Mann-Kendall (no autocorrelation correction) + Sen slope on the raw samples; leak
  when p < 0.05 and the slope is positive (the classic software-aging test).
- `growth_rule`: an alert rule: OLS growth > 10% per hour of the mean level (Coroot-style).
- `ruptures_cp`: change points (ruptures PELT, l2 cost, BIC-like penalty) on the series; leak
  when the segment means rise by >= 5% overall and most consecutive segments go up.
"""

from __future__ import annotations

import math

import numpy as np

MAX_POINTS = 2000
CRITICAL_S = 7 * 86400


def _reduce(t: np.ndarray, m: np.ndarray, k: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Bucket means (what a dashboard would plot) when there are more than k points."""
    if len(t) <= k:
        return t, m
    edges = np.linspace(0, len(t), k + 1).astype(int)
    starts = edges[:-1]
    counts = np.diff(edges)
    return np.add.reduceat(t, starts) / counts, np.add.reduceat(m, starts) / counts


def _ols(t: np.ndarray, m: np.ndarray) -> tuple[float, float, float]:
    tm, mm = t.mean(), m.mean()
    dt = t - tm
    sxx = float(np.dot(dt, dt))
    if sxx <= 0:
        return 0.0, float(mm), 0.0
    slope = float(np.dot(dt, m - mm) / sxx)
    resid = m - (mm + slope * dt)
    sst = float(np.dot(m - mm, m - mm))
    r2 = 1 - float(np.dot(resid, resid)) / sst if sst > 0 else 0.0
    return slope, float(mm + slope * (t[-1] - tm)), r2


def _ttl(limit: int | None, level: float, slope: float) -> float | None:
    if limit is None or slope <= 0:
        return None
    return max((limit - level) / slope, 0.0)


def lbr(t: np.ndarray, m: np.ndarray, limit: int | None) -> tuple[bool, float | None]:
    t, m = _reduce(t, m)
    n = len(t)
    best = None
    for frac in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        k = max(int(n * frac), 10)
        if k > n:
            break
        slope, level, r2 = _ols(t[-k:], m[-k:])
        if r2 >= 0.8:
            best = (slope, level)
    if best is None:
        return False, None
    slope, level = best
    ttl = _ttl(limit, level, slope)
    leak = slope > 0 and (limit is None or (ttl is not None and ttl <= CRITICAL_S))
    return leak, ttl if leak else None


def _mk(y: np.ndarray) -> float:
    n = len(y)
    i, j = np.triu_indices(n, k=1)
    s = float(np.sign(y[j] - y[i]).sum())
    var = n * (n - 1) * (2 * n + 5) / 18.0
    z = (s - np.sign(s)) / math.sqrt(var) if var > 0 else 0.0
    return 0.5 * math.erfc(z / math.sqrt(2))


def raw_mk(t: np.ndarray, m: np.ndarray, limit: int | None) -> tuple[bool, float | None]:
    t, m = _reduce(t, m, 500)
    if len(t) < 4:
        return False, None
    p = _mk(m)
    i, j = np.triu_indices(len(t), k=1)
    dx = t[j] - t[i]
    ok = dx > 0
    slope = float(np.median((m[j] - m[i])[ok] / dx[ok]))
    leak = p < 0.05 and slope > 0
    level = float(np.median(m - slope * t) + slope * t[-1])
    return leak, _ttl(limit, level, slope) if leak else None


def growth_rule(t: np.ndarray, m: np.ndarray, limit: int | None) -> tuple[bool, float | None]:
    t, m = _reduce(t, m)
    slope, level, _ = _ols(t, m)
    leak = slope * 3600 > 0.10 * max(float(m.mean()), 1.0)
    return leak, _ttl(limit, level, slope) if leak else None


def ruptures_cp(t: np.ndarray, m: np.ndarray, limit: int | None) -> tuple[bool, float | None]:
    import ruptures as rpt

    t, m = _reduce(t, m, 250)
    n = len(m)
    if n < 10:
        return False, None
    sigma = float(1.4826 * np.median(np.abs(np.diff(m) - np.median(np.diff(m))))) / math.sqrt(2) + 1.0
    algo = rpt.Pelt(model="l2", min_size=max(3, n // 50), jump=max(1, n // 250)).fit(m.reshape(-1, 1))
    bkps = algo.predict(pen=3 * sigma * sigma * math.log(n))
    starts = [0, *bkps[:-1]]
    means = np.array([m[s:e].mean() for s, e in zip(starts, bkps, strict=True)])
    if len(means) < 2:
        return False, None
    ups = np.diff(means) > 0
    leak = bool(means[-1] - means[0] >= 0.05 * max(means[0], 1.0) and ups.mean() >= 0.7)
    if not leak:
        return False, None
    slope, level, _ = _ols(t, m)
    return True, _ttl(limit, level, slope)


BASELINES = {
    "LBR (OLS+R2)": lbr,
    "raw MK+Sen": raw_mk,
    ">10%/h rule": growth_rule,
    "ruptures CP": ruptures_cp,
}
