"""How many 5 MiB/min leaks an ideal floor test would catch on the `stable` gate family.

    python3 benchmarks/gate_stable_bound.py            # 3,000 draws of the family's noise
    python3 benchmarks/gate_stable_bound.py --interval 0.02

benchmarks/gate_families.py's `stable` background is a flat level plus AR(1) noise (sd log-uniform
0.1-2 MiB, phi uniform 0.3-0.9 per 200 ms) sampled for 60 s. For each draw this computes the
standard error of the generalised-least-squares slope when the noise's sd and phi are *known*
(the best linear unbiased estimator), and the probability that a leak of 5 or 10 MiB/min clears the
gate's rising rule, slope > max(2.5 MiB/min, 2.33 se). The mean over the draws is the catch rate no
estimator of the trend can beat by much on that family with the gate's rule; the gate itself has
to estimate the noise from the same 60 s. Pure numpy; about 10 s.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

DURATION_S = 60.0
PHI_LAG_S = 0.2  # the family's phi is per 200 ms
RISING_MIB_MIN = 2.5
Z = 2.33


def _normal_sf(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2))


def slope_se_mib_min(sd_mib: float, phi: float, interval_s: float) -> float:
    """Standard error (MiB/min) of the GLS slope over DURATION_S of AR(1) noise with known sd and phi."""
    n = round(DURATION_S / interval_s) + 1
    t = np.arange(n) * interval_s
    rho = phi ** (interval_s / PHI_LAG_S)
    # The AR(1) precision matrix is tridiagonal: X' Q X in O(n) without forming Q.
    x = np.column_stack([np.ones(n), t])
    d = np.full(n, 1 + rho * rho)
    d[0] = d[-1] = 1.0
    xqx = (x * d[:, None]).T @ x - rho * (x[:-1].T @ x[1:] + x[1:].T @ x[:-1])
    xqx /= sd_mib * sd_mib * (1 - rho * rho)
    return math.sqrt(float(np.linalg.inv(xqx)[1, 1])) * 60.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    caught = {5.0: [], 10.0: []}
    ses = []
    for _ in range(args.draws):
        sd = math.exp(rng.uniform(math.log(0.1), math.log(2.0)))
        phi = rng.uniform(0.3, 0.9)
        se = slope_se_mib_min(sd, phi, args.interval)
        ses.append(se)
        threshold = max(RISING_MIB_MIN, Z * se)
        for rate, out in caught.items():
            out.append(_normal_sf((threshold - rate) / se))
    print(f"stable family, {args.draws} draws, {DURATION_S:.0f} s at {args.interval * 1000:.0f} ms, known noise:")
    print(f"  slope standard error: median {np.median(ses):.2f}, p99 {np.percentile(ses, 99):.2f} MiB/min")
    for rate, out in caught.items():
        print(f"  ideal catch rate at {rate:.0f} MiB/min: {100 * float(np.mean(out)):.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
