"""Growth classification of a memory series (first, simple version).

Pure functions over numpy arrays: no I/O, no printing. The trend is taken on the memory
*floor* (per-window minima), not on raw samples, so that a GC sawtooth whose troughs hold is
healthy and one whose troughs climb is a leak.
"""

from __future__ import annotations

import numpy as np

from memdoctor.analysis.diagnosis import Diagnosis
from memdoctor.units import format_bytes, format_duration, format_rate

MIN_SAMPLES = 20


def _floor(t: np.ndarray, mem: np.ndarray, windows: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Minimum of each of `windows` equal time windows: the memory floor envelope."""
    edges = np.linspace(t[0], t[-1], windows + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, windows - 1)
    floor_t, floor_m = [], []
    for w in range(windows):
        sel = idx == w
        if sel.any():
            k = np.argmin(mem[sel])
            floor_t.append(t[sel][k])
            floor_m.append(mem[sel][k])
    return np.asarray(floor_t, dtype=float), np.asarray(floor_m, dtype=float)


def _theil_sen(x: np.ndarray, y: np.ndarray) -> float:
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    ok = dx > 0
    if not ok.any():
        return 0.0
    return float(np.median((y[j] - y[i])[ok] / dx[ok]))


def _mann_kendall_z(y: np.ndarray) -> float:
    n = len(y)
    i, j = np.triu_indices(n, k=1)
    s = float(np.sign(y[j] - y[i]).sum())
    var = n * (n - 1) * (2 * n + 5) / 18.0
    if var <= 0:
        return 0.0
    if s > 0:
        return (s - 1) / np.sqrt(var)
    if s < 0:
        return (s + 1) / np.sqrt(var)
    return 0.0


def diagnose(
    t: np.ndarray,
    mem: np.ndarray,
    *,
    limit_bytes: int | None = None,
    restart_times: np.ndarray | None = None,
    skipped_rows: int = 0,
) -> Diagnosis:
    """Classify one memory series: verdict, pattern, floor growth rate, time to the limit."""
    t = np.asarray(t, dtype=float)
    mem = np.asarray(mem, dtype=float)
    n = len(t)
    evidence: list[str] = []
    if skipped_rows:
        evidence.append(f"{skipped_rows} unparseable rows skipped")
    duration = float(t[-1] - t[0]) if n else 0.0
    if n < MIN_SAMPLES or duration <= 0:
        evidence.append(f"only {n} samples over {format_duration(duration)}: at least {MIN_SAMPLES} are needed")
        return Diagnosis(
            verdict="inconclusive",
            pattern="stable",
            growth_bytes_per_s=0.0,
            limit_bytes=limit_bytes,
            time_to_limit_s=None,
            samples=n,
            duration_s=duration,
            confidence=0.0,
            evidence=evidence,
            last_bytes=float(mem[-1]) if n else None,
            peak_bytes=float(mem.max()) if n else None,
        )
    floor_t, floor_m = _floor(t, mem)
    slope = _theil_sen(floor_t, floor_m)
    z = _mann_kendall_z(floor_m)
    rise = float(floor_m[-1] - floor_m[0])
    noise = float(np.median(np.abs(np.diff(floor_m)))) if len(floor_m) > 1 else 0.0
    level = max(float(np.median(mem)), 1.0)
    spread = float(np.percentile(mem, 95) - np.percentile(mem, 5))
    grows = z > 3.0 and slope * duration > max(0.03 * floor_m[0], 4 * noise, 1024 * 1024)
    evidence.append(
        f"floor rose {format_bytes(rise)} over {format_duration(duration)}, "
        f"Mann-Kendall z={z:.1f}, Sen slope {format_rate(slope)}"
    )
    if grows:
        verdict, pattern = "leak", "linear"
        confidence = min(1.0, z / 6.0)
    else:
        verdict = "no-leak"
        pattern = "sawtooth" if spread > 0.2 * level else "stable"
        confidence = 0.6
        slope = max(slope, 0.0) if abs(z) > 2 else 0.0
    ttl = None
    if limit_bytes and slope > 0 and verdict == "leak":
        ttl = max(0.0, (limit_bytes - float(floor_m[-1])) / slope)
        evidence.append(f"{format_bytes(limit_bytes)} limit reached in about {format_duration(ttl)}")
    return Diagnosis(
        verdict=verdict,
        pattern=pattern,
        growth_bytes_per_s=slope,
        limit_bytes=limit_bytes,
        time_to_limit_s=ttl,
        samples=n,
        duration_s=duration,
        confidence=confidence,
        evidence=evidence,
        floor_start_bytes=float(floor_m[0]),
        floor_end_bytes=float(floor_m[-1]),
        last_bytes=float(mem[-1]),
        peak_bytes=float(mem.max()),
    )
