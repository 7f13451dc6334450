"""Long windows whose change comes late: what the diagnosis says about fills, steps and leaks that begin late.

    PYTHONPATH=. python3 benchmarks/late_shapes.py --per-family 100 --workers 2 [--json out.json]

Each trace: 10 minutes to 3 hours, sampled every 1-10 s (at most 8,000 samples), a level of 50 MiB-2 GiB, noise
0.1-2 % of it, whole 4 KiB pages in 30 % of them, a limit of 2-4x the level in 70 %. Healthy families: a cache
filling from 40-90 % of the window (exponential, logistic, linear up to a cap, in 2-5 steps), one late step up to a
larger working set, a sawtooth of long cycles, a GC sawtooth whose last ramp is not yet collected, a V8-like old
space growing to its next major GC, batches whose last, largest one is still running, a slow drift (a long sine or
a random walk). Leaks: flat, then linear from 30-80 % of the window (its rise 1-40 % of the level), alone or under
a GC sawtooth. Prints, per family, how many read leak / inconclusive / no-leak, and for the monotone healthy
families how many of the "leak" ones were level at the end (their last 10 % carried under a tenth of the rise of
their last 40 %): the false alarms no plot would raise. Run it from two checkouts to compare them.

The shapes were written by an adversarial review of the late-start rule (classify._leak_began_late, 2026-12-07),
not tuned against: docs/benchmarks.md reports the runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from memdoctor.analysis.engine import diagnose

MIB = 1024**2
PAGE = 4096
Shape = tuple[np.ndarray, np.ndarray, dict[str, Any]]


def _window(rng: np.random.Generator) -> tuple[float, float, np.ndarray]:
    span = float(rng.choice([600, 1200, 1800, 3600, 7200, 3 * 3600]))
    dt = float(rng.choice([1, 2, 5, 10]))
    while span / dt > 8000:  # a few thousand samples: what `watch` keeps of hours after decimation
        dt *= 2
    level = float(np.exp(rng.uniform(np.log(50 * MIB), np.log(2048 * MIB))))
    return level, span, np.arange(0, span, dt)


def _finish(rng: np.random.Generator, t: np.ndarray, clean: np.ndarray, level: float, info: dict[str, Any]) -> Shape:
    """Noise, pages and a limit; and how level the clean curve is at its end (tail_share)."""
    span = float(t[-1])
    rise40 = clean[-1] - clean[t >= 0.6 * span][0]
    rise10 = clean[-1] - clean[t >= 0.9 * span][0]
    info["tail_share"] = float(rise10 / rise40) if rise40 > 0 else float("nan")
    noise = float(np.exp(rng.uniform(np.log(0.001), np.log(0.02))))
    m = clean + rng.normal(0, noise * level, len(t))
    if rng.random() < 0.3:
        m = np.floor(m / PAGE) * PAGE
    info["limit"] = None if rng.random() < 0.3 else int(level * rng.uniform(2, 4))
    return t, m, info


def exp_fill(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    start, size, tau = rng.uniform(0.4, 0.9) * span, rng.uniform(0.03, 0.5) * level, rng.uniform(0.03, 0.4) * span
    return _finish(rng, t, level + size * (1 - np.exp(-np.maximum(t - start, 0) / tau)), level, {})


def logistic(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    mid, width, size = rng.uniform(0.5, 0.9) * span, rng.uniform(0.01, 0.1) * span, rng.uniform(0.03, 0.5) * level
    return _finish(rng, t, level + size / (1 + np.exp(-(t - mid) / width)), level, {})


def linear_to_cap(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    start = rng.uniform(0.3, 0.8) * span
    cap = start + rng.uniform(0.1, 1.0) * (span - start)
    size = rng.uniform(0.03, 0.5) * level
    return _finish(rng, t, level + size * np.clip((t - start) / (cap - start), 0, 1), level, {})


def step_fill(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    steps = int(rng.integers(2, 6))
    start = rng.uniform(0.4, 0.8) * span
    end = start + rng.uniform(0.3, 0.95) * (span - start)
    size = rng.uniform(0.03, 0.5) * level
    clean = level + sum((size / steps) * (t >= at) for at in np.linspace(start, end, steps))
    return _finish(rng, t, np.asarray(clean, dtype=float), level, {})


def one_step(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    start, size, took = rng.uniform(0.55, 0.95) * span, rng.uniform(0.03, 0.5) * level, rng.uniform(1, 120)
    return _finish(rng, t, level + size * np.clip((t - start) / took, 0, 1), level, {})


def long_sawtooth(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    period, amp, jitter = rng.uniform(0.15, 0.6) * span, rng.uniform(0.05, 0.5) * level, rng.uniform(0, 0.3)
    edges = [-rng.uniform(0, period)]
    while edges[-1] < span:  # each cycle's length jitters: the collection comes at a random point
        edges.append(edges[-1] + period * (1 + jitter * rng.uniform(-1, 1)))
    at = np.searchsorted(np.asarray(edges), t, side="right") - 1
    return _finish(rng, t, level + (amp / period) * (t - np.asarray(edges)[at]), level, {})


def sawtooth_end_ramp(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    period, amp = rng.uniform(20, 300), rng.uniform(0.05, 0.3) * level
    last_gc = rng.uniform(0.6, 0.95) * span  # after it the heap grows uncollected to the end
    clean = np.where(t >= last_gc, level + amp * ((last_gc % period) / period) + (amp / period) * (t - last_gc),
                     level + amp * ((t % period) / period))
    return _finish(rng, t, clean, level, {})


def v8_old_space(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    scavenge, young = rng.uniform(5, 60), rng.uniform(0.02, 0.15) * level
    promote = rng.uniform(0.05, 1.0) * level / span * 3
    growth, threshold = rng.uniform(1.0, 1.6), rng.uniform(0.05, 0.3) * level
    start = rng.uniform(0.0, 0.7) * span  # idle (no promotion) before
    old = np.zeros_like(t)
    last = start
    for i, ti in enumerate(t):
        if ti < start:
            continue
        old[i] = promote * (ti - last)
        if old[i] >= threshold:  # a major GC; the next one comes at a larger heap
            last, old[i], threshold = ti, 0.0, threshold * growth
    return _finish(rng, t, level + old + young * ((t % scavenge) / scavenge), level, {})


def batch_still_running(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    every, busy = rng.uniform(0.1, 0.4) * span, rng.uniform(0.5, 1.0)
    sizes = rng.uniform(0.05, 0.4, 100) * level
    k = np.floor(t / every).astype(int)
    phase = t - k * every
    clean = level + np.where(phase < busy * every, sizes[k] * phase / (busy * every), 0.0)
    last = int(np.floor(float(t[-1]) / every))  # the last batch: the largest, still running at the end
    big = rng.uniform(1.0, 2.0) * sizes[: last + 1].max()
    runs = max(span - last * every, 1.0) * rng.uniform(1.0, 2.0)
    return _finish(rng, t, np.where(k == last, level + big * (t - last * every) / runs, clean), level, {})


def drift(rng: np.random.Generator) -> Shape:
    level, span, t = _window(rng)
    if rng.random() < 0.5:
        period, amp, phase = rng.uniform(1.0, 4.0) * span, rng.uniform(0.02, 0.2) * level, rng.uniform(0, 2 * np.pi)
        clean = level + amp * np.sin(2 * np.pi * t / period + phase)
    else:
        step = rng.uniform(0.001, 0.01) * level
        clean = level + np.cumsum(rng.normal(0, step, len(t)) * np.sqrt(float(t[1] - t[0]) / 60))
    return _finish(rng, t, clean, level, {})


def _late_leak(rng: np.random.Generator, under_sawtooth: bool) -> Shape:
    level, span, t = _window(rng)
    start = rng.uniform(0.3, 0.8) * span
    rise = float(rng.choice([0.5, 1, 2, 5, 20])) * 0.02 * level
    clean = level + rise / (span - start) * np.maximum(t - start, 0)
    if under_sawtooth:
        period, amp = rng.uniform(15, 300), rng.uniform(0.05, 0.3) * level
        clean = clean + amp * ((t % period) / period)
    t, m, info = _finish(rng, t, clean, level, {"rise_share": rise / level, "rate": rise / (span - start)})
    info["limit"] = info["limit"] or int(3 * level)
    return t, m, info


def late_leak(rng: np.random.Generator) -> Shape:
    return _late_leak(rng, False)


def late_leak_under_sawtooth(rng: np.random.Generator) -> Shape:
    return _late_leak(rng, True)


HEALTHY: dict[str, Callable[[np.random.Generator], Shape]] = {
    f.__name__: f for f in (exp_fill, logistic, linear_to_cap, step_fill, one_step, long_sawtooth,
                            sawtooth_end_ramp, v8_old_space, batch_still_running, drift)}
LEAKS: dict[str, Callable[[np.random.Generator], Shape]] = {
    f.__name__: f for f in (late_leak, late_leak_under_sawtooth)}
MONOTONE = ("exp_fill", "logistic", "linear_to_cap", "step_fill", "one_step")


def _one(job: tuple[str, int, int]) -> tuple[str, int, str, float, float]:
    """(family, index, verdict, the clean curve's end share, the growth shown over the true rate: leaks only)."""
    family, seed, i = job
    rng = np.random.default_rng([seed, sum(map(ord, family)), i])
    t, m, info = {**HEALTHY, **LEAKS}[family](rng)
    d = diagnose(t, m, limit_bytes=info["limit"])
    ratio = d.growth_bytes_per_s / info["rate"] if "rate" in info else float("nan")
    return family, i, d.verdict.value, info["tail_share"], ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-family", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", help="write each trace's family, index, verdict and end share here")
    args = ap.parse_args()
    jobs = [(f, args.seed, i) for f in (*HEALTHY, *LEAKS) for i in range(args.per_family)]
    if args.workers > 1:
        with multiprocessing.Pool(args.workers) as pool:
            rows = pool.map(_one, jobs, chunksize=8)
    else:
        rows = [_one(j) for j in jobs]
    counts = Counter((r[0], r[2]) for r in rows)
    level_leaks = Counter(r[0] for r in rows if r[2] == "leak" and r[3] < 0.1)
    print(f"{len(rows)} late-change traces, seed {args.seed}, {args.per_family} per family\n")
    print("| family | label | leak | inconclusive | no-leak | leak, level at the end | leak growth / true rate, "
          "median (10-90 %) |")
    print("|---|---|---|---|---|---|---|")
    for family in (*HEALTHY, *LEAKS):
        label = "leak" if family in LEAKS else "no-leak"
        level = str(level_leaks[family]) if family in MONOTONE else "-"
        ratios = [r[4] for r in rows if r[0] == family and r[2] == "leak"]
        shown = (f"{np.median(ratios):.2f} ({np.percentile(ratios, 10):.2f}-{np.percentile(ratios, 90):.2f})"
                 if family in LEAKS and ratios else "-")
        print(f"| {family} | {label} | {counts[family, 'leak']} | {counts[family, 'inconclusive']} | "
              f"{counts[family, 'no-leak']} | {level} | {shown} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh)


if __name__ == "__main__":
    main()
