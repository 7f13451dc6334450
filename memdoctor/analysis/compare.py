"""Before/after comparison of two memory series: did a fix stop the leak? Pure functions.

The classifier (`diagnose`) gives each trace its verdict and time to the limit; this module adds a
confidence interval of the memory-floor slope (Theil-Sen over window minima, so GC sawtooth peaks do not
count and neighbouring samples are not counted as independent evidence) and the judgement:

- `fixed`: BEFORE leaked, AFTER does not;
- `improved`: both leak, AFTER's floor grows significantly slower (the intervals do not overlap);
- `worse`: AFTER leaks and BEFORE did not, or both leak and AFTER grows significantly faster;
- `unchanged`: anything else (both leak at rates the data cannot tell apart, or neither leaks).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from memdoctor.analysis.diagnosis import Diagnosis


def window_minima(t: np.ndarray, mem: np.ndarray, windows: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """The floor: the minimum of each of `windows` equal time windows, at the time of that minimum."""
    t = np.asarray(t, dtype=float)
    mem = np.asarray(mem, dtype=float)
    keep = np.isfinite(t) & np.isfinite(mem)
    t, mem = t[keep], mem[keep]
    if t.size == 0:
        return t, mem
    edges = np.linspace(t[0], t[-1], windows + 1)
    index = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, windows - 1)
    ts, ms = [], []
    for w in range(windows):
        sel = np.flatnonzero(index == w)
        if sel.size:
            k = sel[np.argmin(mem[sel])]
            ts.append(t[k])
            ms.append(mem[k])
    return np.asarray(ts), np.asarray(ms)


def floor_slope_ci(t: np.ndarray, mem: np.ndarray, windows: int = 20) -> dict[str, Any]:
    """Slope of the memory floor (bytes/s) with its 95% confidence interval.

    Theil-Sen over the window minima (the median of the pairwise slopes), with the rank-based
    interval of Sen (1968): robust to a start-up sample or one missed trough, which an OLS line is not.
    """
    ft, fm = window_minima(t, mem, windows)
    n = int(ft.size)
    out: dict[str, Any] = {"method": f"Theil-Sen over {n} window minima, 95% interval (Sen 1968)", "points": n}
    if n < 3 or float(ft[-1] - ft[0]) <= 0:
        out.update(slope_bytes_per_s=None, low=None, high=None)
        return out
    i, j = np.triu_indices(n, k=1)
    dt = ft[j] - ft[i]
    ok = dt > 0
    slopes = np.sort((fm[j] - fm[i])[ok] / dt[ok])
    m = int(slopes.size)
    if m == 0:
        out.update(slope_bytes_per_s=None, low=None, high=None)
        return out
    var_s = n * (n - 1) * (2 * n + 5) / 18.0
    c = 1.96 * math.sqrt(var_s)
    lo_rank = max(0, math.floor((m - c) / 2.0) - 1)
    hi_rank = min(m - 1, math.ceil((m + c) / 2.0))
    out.update(slope_bytes_per_s=float(np.median(slopes)), low=float(slopes[lo_rank]), high=float(slopes[hi_rank]))
    return out


def _judge(before: Diagnosis, after: Diagnosis, b_ci: dict[str, Any], a_ci: dict[str, Any]) -> tuple[str, list[str]]:
    b_leak, a_leak = before.verdict == "leak", after.verdict == "leak"
    both_known = all(ci.get(k) is not None for ci in (b_ci, a_ci) for k in ("low", "high"))
    faster = both_known and a_ci["low"] > b_ci["high"]
    slower = both_known and a_ci["high"] < b_ci["low"]
    why: list[str] = []
    if b_leak and not a_leak:
        why.append(f"BEFORE leaks; AFTER does not ({after.verdict}, {after.pattern})")
        return "fixed", why
    if a_leak and not b_leak:
        why.append(f"AFTER leaks ({after.pattern}); BEFORE did not ({before.verdict})")
        return "worse", why
    if a_leak and b_leak:
        if faster:
            why.append("both leak; AFTER's floor grows faster (the 95% intervals do not overlap)")
            return "worse", why
        if slower:
            why.append("both leak; AFTER's floor grows slower (the 95% intervals do not overlap), but it still leaks")
            return "improved", why
        why.append("both leak at rates the data cannot tell apart")
        return "unchanged", why
    why.append(f"neither leaks (BEFORE {before.verdict}, AFTER {after.verdict})")
    return "unchanged", why


def compare(before: Diagnosis, after: Diagnosis, before_ci: dict[str, Any], after_ci: dict[str, Any]) -> dict[str, Any]:
    """The comparison object of `memdoctor compare --json`."""
    outcome, why = _judge(before, after, before_ci, after_ci)
    b_rate, a_rate = before_ci.get("slope_bytes_per_s") or 0.0, after_ci.get("slope_bytes_per_s") or 0.0
    ratio = (a_rate / b_rate) if b_rate > 0 else None
    return {
        "outcome": outcome,
        "worse": outcome == "worse",
        "leak_gone": before.verdict == "leak" and after.verdict != "leak",
        "still_leaks": after.verdict == "leak",
        "growth_ratio": ratio,
        "time_to_limit_before_s": before.time_to_limit_s,
        "time_to_limit_after_s": after.time_to_limit_s,
        "evidence": why,
        "before": {**before.to_dict(), "floor_slope": before_ci},
        "after": {**after.to_dict(), "floor_slope": after_ci},
    }
