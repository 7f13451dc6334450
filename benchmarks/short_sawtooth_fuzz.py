"""Short generated sawtooths: what the diagnosis says about a growth it has few cycles to measure.

    PYTHONPATH=. python3 benchmarks/short_sawtooth_fuzz.py --seed 1 --count 3000 [--json out.json]

Each trace: 12-200 samples every 20 ms to 1 s, 2-5 cycles of a sawtooth 2-50 % of a 20-400 MiB level, noise
up to 1 % of the level, whole 4 KiB pages; a third of them leak (0-11 MiB/min), the rest are flat. Prints how many
traces read each verdict, how many show a growth with no interval, and how often the true slope lies inside the
interval shown. Run it from two checkouts to compare them (`--json` keeps each trace's answer for a diff).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np

from memdoctor.analysis.engine import diagnose

PAGE = 4096


def traces(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        dt = float(rng.choice([0.02, 0.1, 0.5, 1.0]))
        n = int(rng.integers(12, 200))
        t = np.arange(n) * dt
        period = float(rng.uniform(0.2, 0.6)) * n * dt
        base = float(rng.uniform(20, 400)) * 2**20
        amp = float(rng.uniform(0.02, 0.5)) * base
        slope = float(rng.choice([0.0, 0.0, rng.uniform(0, 2e5)]))
        m = base + amp * ((t % period) / period) + slope * t + rng.normal(0, float(rng.uniform(0, 0.01)) * base, n)
        yield t, np.round(m / PAGE) * PAGE, slope


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--json", help="write each trace's verdict, pattern, growth, interval and true slope here")
    args = ap.parse_args()
    rows = []
    for k, (t, m, slope) in enumerate(traces(args.seed, args.count)):
        d = diagnose(t, m)
        rows.append((k, d.verdict.value, d.pattern.value, d.growth_bytes_per_s, d.growth_low_bytes_per_s,
                     d.growth_high_bytes_per_s, slope))
    verdicts = Counter((r[1], "leaking" if r[6] > 0 else "flat") for r in rows)
    no_band = sum(1 for r in rows if r[4] == r[5])
    inside = sum(1 for r in rows if r[4] <= r[6] <= r[5])
    print(f"{len(rows)} short sawtooths, seed {args.seed}")
    for (verdict, truth), n in sorted(verdicts.items()):
        print(f"  {verdict:12} {truth:8} {n}")
    print(f"growth shown with no interval: {no_band}; true slope inside the interval shown: {inside}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh)


if __name__ == "__main__":
    main()
