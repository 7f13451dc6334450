"""Robust trend statistics on a short series of floor points.

Everything here works on a *bounded* number of points (the floor of a trace is reduced to at
most a few hundred points before it gets here), so the O(k^2) pairwise statistics cost a few
milliseconds whatever the length of the original trace.

- Mann-Kendall trend test with the Hamed & Rao (1998) variance correction for autocorrelated
  series: floor points of a memory trace are strongly autocorrelated, and the uncorrected test
  then finds "trends" in plain noise (a known weakness in the software-aging literature).
- Theil-Sen slope (median of pairwise slopes) with its rank-based confidence band
  (Gilbert 1987), which the forecast turns into a time-to-limit range; where ties collapse
  it, a robust least-squares band; a band with a width is never narrower than one page over
  the span.
- Small least-squares helpers (lines, a hinge, an exponential) for the shape tests.

No scipy: the normal tail is `math.erfc`, the quantile `statistics.NormalDist`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from memdoctor.analysis.thresholds import FEW_TROUGHS_LAST_RISE, FILL_MAX_LAG1, PAGE_BYTES


@lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(n, k=1)
    i.setflags(write=False)
    j.setflags(write=False)
    return i, j


_NORMAL = NormalDist()
# The interquartile range of a normal sample is 1.349 standard deviations (2 x 0.6745, its quartiles).
IQR_PER_SIGMA = 1.349


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF (statistics.NormalDist, stdlib)."""
    return _NORMAL.inv_cdf(min(max(p, 1e-12), 1 - 1e-12))


def student_t_quantile(p: float, df: int) -> float:
    """Inverse CDF of Student's t with `df` degrees of freedom, for 0.5 <= p < 1 (no scipy in the base install).

    df 1 and 2 in closed form; from 3 on the Cornish-Fisher expansion of t around the normal quantile
    to the fourth power of 1/df (Abramowitz & Stegun 26.7.5): within 0.4 % of scipy.stats.t.ppf at
    p = 0.99 and 0.05 % at p = 0.95 for every df (tests/test_gate.py::test_student_t_quantile_matches_scipy)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, not {df}")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = normal_quantile(p)
    z2 = z * z
    g1 = (z2 + 1) * z / 4
    g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def chi_square_quantile(p: float, df: int) -> float:
    """Inverse CDF of the chi-square distribution with `df` degrees of freedom (no scipy in the base install).

    The Wilson-Hilferty cube-root normal approximation (Abramowitz & Stegun 26.4.17): within 3.1 % of
    scipy.stats.chi2.ppf at p = 0.999 (df 1; 1.4 % from df 4 on) and 0.8 % at p = 0.99
    (tests/test_gate.py::test_chi_square_quantile_matches_scipy)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, not {df}")
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + normal_quantile(p) * math.sqrt(a)) ** 3


def f_quantile_2(p: float, df: int) -> float:
    """Inverse CDF of the F distribution with 2 and `df` degrees of freedom, exact: for 2 numerator degrees of
    freedom P(F <= f) = 1 - (1 + 2 f / df) ** (-df / 2) (Abramowitz & Stegun 26.6.4 with nu1 = 2), so
    f = df / 2 * ((1 - p) ** (-2 / df) - 1) (tests/test_gate.py::test_f_quantile_2_matches_scipy)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, not {df}")
    return float(df / 2.0 * ((1.0 - p) ** (-2.0 / df) - 1.0))


def rank_sum_p_below(low: np.ndarray, high: np.ndarray) -> float:
    """One-sided p of the Wilcoxon-Mann-Whitney rank-sum test that `low` lies below `high`: the chance, with both
    drawn from one distribution, that at least as many (low, high) pairs are ordered low < high (a tie counts a
    half). Exact: the null distribution of U by the Mann-Whitney recursion, for the few points it is used on (the
    first floor points of a fill against its tail). With ties (page-tied floors) U has halves, which the untied
    distribution does not: the p is that of the whole U below it, on the conservative side."""
    a, b = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    m, n = len(a), len(b)
    if m == 0 or n == 0:
        return 1.0
    u = float(np.sum(a[:, None] < b[None, :]) + 0.5 * np.sum(a[:, None] == b[None, :]))
    counts = _rank_sum_counts(m, n)
    need = math.floor(u + 1e-9)  # U of the null distribution takes whole values
    return float(sum(counts[need:]) / sum(counts))


@lru_cache(maxsize=64)
def _rank_sum_counts(m: int, n: int) -> tuple[int, ...]:
    """How many orderings of m + n distinct values give each U = 0 .. m n, by Mann & Whitney's (1947) recursion
    (the largest value belongs to one sample or the other), tabulated row by row: a memoised recursion needs
    (m + 1)(n + 1) entries and a call depth of m + n."""
    below: list[list[int]] = [[1] for _ in range(n + 1)]  # the counts for (i - 1, j), j = 0 .. n; i - 1 = 0 here
    for i in range(1, m + 1):
        row: list[list[int]] = [[1]]  # (i, 0): U = 0 only
        for j in range(1, n + 1):
            out = [0] * (i * j + 1)
            for u, c in enumerate(below[j]):  # the largest is one of the i: below none of the j, U unchanged
                out[u] += c
            for u, c in enumerate(row[j - 1]):  # the largest is one of the j: all i are below it, U + i
                out[u + i] += c
            row.append(out)
        below = row
    return tuple(below[n])


@dataclass(frozen=True)
class Trend:
    """Mann-Kendall + Theil-Sen result on one series of points."""

    n: int
    slope: float  # Theil-Sen, units of y per unit of x
    intercept: float  # y at x = 0 of the Sen line (median of y - slope * x)
    slope_low: float  # confidence band of the slope (mann_kendall_sen); slope_low == slope_high: no band
    slope_high: float
    s: float  # Mann-Kendall S
    z: float  # corrected z score
    p_up: float  # one-sided p-value for an increasing trend
    n_eff_ratio: float  # Hamed-Rao variance inflation (>= 1)

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


EMPTY_TREND = Trend(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0)


def _tie_term(y: np.ndarray) -> float:
    """sum t (t - 1) (2t + 5) over the groups of tied values of y: the S statistic ranks y itself."""
    _, counts = np.unique(y, return_counts=True)
    counts = counts[counts > 1].astype(float)
    return float(np.sum(counts * (counts - 1) * (2 * counts + 5)))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with tied values sharing their mean rank (a stable argsort would rank a tied group in
    time order, and page-quantized floors tie a lot: a spurious autocorrelation of the ranks)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(len(values), dtype=float)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    if (counts > 1).any():
        sums = np.bincount(inverse, weights=ranks)
        ranks = (sums / counts)[inverse]
    return ranks


def _hamed_rao_factor(y: np.ndarray, x: np.ndarray, slope: float) -> float:
    """Variance inflation n/n* from the significant lag autocorrelations of the detrended ranks."""
    n = len(y)
    if n < 8:
        return 1.0
    resid = y - slope * x
    ranks = _average_ranks(resid)
    ranks -= ranks.mean()
    denom = float(np.dot(ranks, ranks))
    if denom <= 0:
        return 1.0
    full = np.correlate(ranks, ranks, mode="full")[n:]  # lags 1..n-1
    rho = full / denom
    lags = np.arange(1, n, dtype=float)
    # Only lags up to n/3 are estimated well enough; keep the significant ones.
    keep = (np.abs(rho) > 1.96 / math.sqrt(n)) & (lags <= n / 3)
    if not keep.any():
        return 1.0
    k = lags[keep]
    weight = (n - k) * (n - k - 1) * (n - k - 2)
    factor = 1.0 + 2.0 / (n * (n - 1) * (n - 2)) * float(np.sum(weight * rho[keep]))
    return max(1.0, factor)


def mann_kendall_sen(x: np.ndarray, y: np.ndarray, *, alpha: float = 0.10, correct: bool = True,
                     resolution: float = PAGE_BYTES, ties: bool = True) -> Trend:
    """Mann-Kendall (Hamed-Rao corrected when `correct`) and Theil-Sen slope of y over x.

    x must be increasing. O(n^2) in time and memory: call it on at most a few hundred points.
    `resolution`: the smallest change y can show (one page of memory); a band with a width is never narrower
    than that change over x's span on either side (a line rising less can leave every value on one page).
    `ties=False` with `resolution=0`: the plain rank band (the live judge's slow-down check, whose margins were
    measured on it: online.slowdown).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 3:
        if n == 2 and x[1] > x[0]:
            # One slope and no band: its error is unknown (not the resolution's), and callers treat low == high so.
            s = (y[1] - y[0]) / (x[1] - x[0])
            return Trend(2, s, float(y[0] - s * x[0]), s, s, 0.0, 0.0, 1.0, 1.0)
        return EMPTY_TREND
    i, j = _pairs(n)
    dy = y[j] - y[i]
    dx = x[j] - x[i]
    s_stat = float(np.sign(dy).sum())
    ok = dx > 0
    slopes = np.sort(dy[ok] / dx[ok]) if ok.any() else np.zeros(1)
    slope = float(np.median(slopes))
    intercept = float(np.median(y - slope * x))
    var = (n * (n - 1) * (2 * n + 5) - _tie_term(y)) / 18.0
    factor = _hamed_rao_factor(y, x, slope) if correct else 1.0
    var *= factor
    if var <= 0:
        z = 0.0
    elif s_stat > 0:
        z = (s_stat - 1) / math.sqrt(var)
    elif s_stat < 0:
        z = (s_stat + 1) / math.sqrt(var)
    else:
        z = 0.0
    # Confidence band of the Sen slope from the (corrected) variance of S.
    m = len(slopes)
    c = normal_quantile(1 - alpha / 2) * math.sqrt(max(var, 0.0))
    lo_rank = math.floor((m - c) / 2)
    hi_rank = math.ceil((m + c) / 2)
    slope_low = float(slopes[min(max(lo_rank, 0), m - 1)])
    slope_high = float(slopes[min(max(hi_rank, 0), m - 1)])
    if ties and slope_low == slope_high:
        slope_low, slope_high = _tied_band(x, y, slope, intercept, slope_low, slope_high, factor, alpha)
    if slope_low < slope_high:
        # A band with no width is left as it is, no band: its callers read low == high so (engine._narrower never
        # prefers it). Given the page as its width, a review's sawtooth of 30 cycles with a floor 2 MiB up in a rising
        # share of them (409.6 KiB/min) showed "0 B/h (-128.6 KiB/h to 128.6 KiB/h)" in place of the floor test's
        # 408.6 KiB/min and passed `gate --max-growth 300KB/min` (tests/test_classifier.py).
        half = resolution_slope(x, resolution)
        slope_low, slope_high = min(slope_low, slope - half), max(slope_high, slope + half)
    return Trend(n, slope, intercept, slope_low, slope_high, s_stat, z, normal_sf(z), factor)


def resolution_slope(x: np.ndarray, resolution: float = PAGE_BYTES) -> float:
    """The smallest slope data over x's span can show: `resolution` (one page of memory) over that span; infinite
    for a span of no length."""
    span = float(x[-1] - x[0])
    return resolution / span if span > 0 else math.inf


def _tied_band(x: np.ndarray, y: np.ndarray, slope: float, intercept: float, low: float, high: float,
               factor: float, alpha: float) -> tuple[float, float]:
    """The band where the slope's own tied group holds both edges of the rank band: page-quantized floors tie most
    pairs (a floor returning to the same two page counts, a plateau), the ranks then fall inside one tied group,
    and the band collapses onto the slope ("0 B/h (0 B/h to 0 B/h)" on a plateau's tail, tests/data/dev_traces/
    py_cache_fill_plateau.csv), a certainty the scatter does not give. Only where it collapses wholly: a band the
    ranks give a width on one side is a measurement, and widening its other side too moved a healthy batch job's
    30 s prefix from "held flat" to "leak" (rw_py_batch_drop, benchmarks.classifier's live replay). There the band
    is at least a least-squares one around the Sen line: Student's t (n - 2 degrees of freedom) times the
    residuals' spread over the spread of x, inflated by the Hamed-Rao factor as the test's variance is. The spread
    is the residuals' interquartile range over 1.349 (the normal's), not their standard deviation: like the Sen
    slope itself it ignores a few odd values (up to a quarter on each side), and one sample reading low on a flat
    tail widened the band 2,000-fold, enough to undo a plateau (a review's fuzzing: 22 of 40 such tails read
    "inconclusive, 6.2 MiB/min"). A second level holding more than a quarter of the points is spread, not odd
    values, and widens it; with fewer the band stays collapsed, no band (mann_kendall_sen then gives it no page
    either). The one-page floor of a band with a width is applied after this, in mann_kendall_sen."""
    n = len(x)
    sxx = float(np.sum((x - x.mean()) ** 2))
    if sxx <= 0:
        return low, high
    q1, q3 = np.percentile(y - (intercept + slope * x), [25, 75])
    spread = float(q3 - q1) / IQR_PER_SIGMA
    half = student_t_quantile(1 - alpha / 2, n - 2) * spread * math.sqrt(factor / sxx)
    return min(low, slope - half), max(high, slope + half)


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 x median absolute deviation: a standard deviation that ignores outliers and jumps."""
    if len(values) == 0:
        return 0.0
    med = np.median(values)
    return float(1.4826 * np.median(np.abs(values - med)))


def diff_sigma(y: np.ndarray) -> float:
    """Noise level of a series from its first differences (insensitive to trends and steps)."""
    if len(y) < 3:
        return 0.0
    return robust_sigma(np.diff(y)) / math.sqrt(2.0)


def slows_down(x: np.ndarray, y: np.ndarray, variances: np.ndarray | None = None, z: float = 0.0) -> bool:
    """Whether a rise over a few floor points slows down: the rate over their second half (from the middle point on)
    is under FEW_TROUGHS_LAST_RISE of the rate over their first half, and the second half's rise falls short of what
    the first half's rate predicts by more than `z` standard errors, from each point's `variances` (the three points
    that measure it: the first, the middle and the last). Too few points for a trend test of the late part
    still show the shape of a fill levelling off, which slows first; with noise comparable to a cycle's rise, a
    leak's few troughs slow down by chance. Both halves share the middle point, so three points are the first and
    the second interval."""
    n = len(y)
    if n < 3:
        return False
    mid = n // 2
    early_s = max(float(x[mid] - x[0]), 1e-9)
    late_s = max(float(x[-1] - x[mid]), 1e-9)
    first = float(y[mid] - y[0]) / early_s
    second = float(y[-1] - y[mid]) / late_s
    if not (first > 0 and second < FEW_TROUGHS_LAST_RISE * first):
        return False
    if variances is None:
        return True
    k = late_s / early_s  # the middle point counts in both halves: (1 + k) times, the first point k times
    v = (1.0 + k) ** 2 * float(variances[mid]) + k**2 * float(variances[0]) + float(variances[-1])
    return (first - second) * late_s > z * math.sqrt(v)


def line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Ordinary least squares: slope, intercept, sum of squared residuals."""
    n = len(x)
    if n < 2:
        return 0.0, float(y[0]) if n else 0.0, 0.0
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    sxx = float(np.dot(dx, dx))
    slope = float(np.dot(dx, y - ym) / sxx) if sxx > 0 else 0.0
    intercept = ym - slope * xm
    resid = y - (intercept + slope * x)
    return slope, intercept, float(np.dot(resid, resid))


def hinge_fit(x: np.ndarray, y: np.ndarray, min_side: int = 4) -> tuple[int, float, float, float]:
    """Best continuous two-piece line (one break) by least squares over the candidate breaks.

    Returns (break index, slope before, slope after, sum of squared residuals). O(n^2) for n
    points, fine for the bounded floor series.
    """
    n = len(x)
    best = (-1, 0.0, 0.0, math.inf)
    if n < 2 * min_side + 1:
        return best
    for k in range(min_side, n - min_side):
        xb = x[k]
        a = np.minimum(x - xb, 0.0)
        b = np.maximum(x - xb, 0.0)
        design = np.column_stack([np.ones(n), a, b])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ coef
        sse = float(np.dot(resid, resid))
        if sse < best[3]:
            best = (k, float(coef[1]), float(coef[2]), sse)
    return best


class FillFit(NamedTuple):
    """y = level + amplitude * exp(-x / tau) + slope * x, the best over a grid of tau (fill_and_line_fit)."""

    tau: float
    level: float
    amplitude: float  # < 0: a fill rising to its level
    slope: float
    sse: float
    lag1: float  # lag-one autocorrelation of the residuals, clipped to [0, FILL_MAX_LAG1]
    slope_scale: float  # the slope's entry of (X'X)^-1: its variance is this times the residuals' variance


def fill_and_line_fit(x: np.ndarray, y: np.ndarray, taus: np.ndarray) -> FillFit:
    """Least squares of a fill levelling off (an exponential approach with time constant tau) plus a line, over a
    grid of tau: the best, with its residuals' lag-one autocorrelation (for an effective number of points) and what
    its slope's standard error is made of."""
    n = len(x)
    best: tuple[float, float, np.ndarray, np.ndarray, np.ndarray] | None = None  # sse, tau, coef, resid, design
    for tau in taus:
        design = np.column_stack([np.ones(n), np.exp(-x / tau), x])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ coef
        sse = float(np.dot(resid, resid))
        if best is None or sse < best[0]:
            best = (sse, float(tau), coef, resid, design)
    if best is None:
        raise ValueError("no time constant to fit")
    sse, tau, coef, resid, design = best
    lag1 = float(np.dot(resid[1:], resid[:-1]) / sse) if sse > 0 else 0.0
    return FillFit(tau, float(coef[0]), float(coef[1]), float(coef[2]), sse, min(max(lag1, 0.0), FILL_MAX_LAG1),
                   float(np.linalg.pinv(design.T @ design)[2, 2]))


def exp_fit(x: np.ndarray, y: np.ndarray, rates: np.ndarray) -> tuple[float, float, float, float]:
    """Least-squares y = a + b * exp(r * x) over a grid of rates r: (r, a, b, sse) of the best."""
    best = (0.0, 0.0, 0.0, math.inf)
    x0 = x - x[0]
    for r in rates:
        e = np.exp(r * x0)
        design = np.column_stack([np.ones(len(x)), e])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ coef
        sse = float(np.dot(resid, resid))
        if sse < best[3]:
            best = (float(r), float(coef[0]), float(coef[1]), sse)
    return best
