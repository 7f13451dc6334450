"""Growth classification of a memory series: is memory that should be freed being kept?

Pure functions over numpy arrays: no I/O, no printing. The pipeline, all O(n) in the samples
and then bounded:

1. `prepare.clean` drops NaN/negative samples, sorts, removes duplicate timestamps (counted in
   the evidence); `prepare.decimate` keeps per-bucket min/max over <= 4096 time buckets.
2. `segments.split` cuts the series at restarts: the ones the trace records (`restart_times`)
   and inferred ones (a sudden fall to the start-up level after peaks near the limit, or to
   below the working floor of the process). A process that climbs to its limit, is killed and
   restarts again and again is the worst leak, not a sawtooth: when the completed lifetimes
   climbed, the verdict is leak whatever the current one looks like.
3. In each segment, after a start-up transient (the first 1% of the segment; up to a minute
   after a restart), `floor` takes the troughs between GC drops (or window minima) as the
   memory floor, at most 256 points. Windows widen to 1.5 cycles when the window floor itself
   cycles (batch jobs), and coarsen when a sawtooth is sampled slower than its period. A few drops
   that only took back spikes, with memory rising between them, are no GC cycles: the floor is then
   the window minima outside the spikes.
4. On the floor: Mann-Kendall with the Hamed-Rao correction for autocorrelation and the
   Theil-Sen slope with its confidence band. A leak needs a significant trend (p < 0.01) AND a
   rise of the floor that matters (>= 2% of its level, and above the noise: 2 sigmas of a
   floor point or 4 standard errors of the fitted rise, whichever is smaller).
5. Shape tests: a flat tail after the rise (slope of the tail significantly below the slope
   before it) is a plateau (warm-up, cache fill: no leak); growth that is still decelerating is
   inconclusive, with how much longer to watch; an accelerating floor that an exponential fits
   better than any broken line is exponential; a floor that rises in a few large jumps separated
   by flat stretches is a step leak; a leak under a GC sawtooth keeps the pattern sawtooth.
6. `forecast` turns the floor trend into a time to the limit with a range from the slope band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from memdoctor.analysis.floor import Floor, compute_floor, count_falls, find_drops, peaks_above, window_minima
from memdoctor.analysis.prepare import Buckets, Clean, decimate
from memdoctor.analysis.segments import REASON_RECORDED, split
from memdoctor.analysis.thresholds import (  # every threshold lives there, with where its value came from
    ALPHA,
    FEW_TROUGHS_RISING,
    FILL_LEVELLED_TAUS,
    FILL_SHAPES,
    FILL_TAU_LONGEST,
    FILL_TAU_SHORTEST,
    FLOOR_CYCLE_SIGMAS,
    GC_DRIFT_FRACTION,
    GROWTH_INTERVAL_Z,
    HELD_LONG_CONFIDENCE,
    IRRELEVANT_TAIL_SHARE,
    LATE_LOOK_ALPHA,
    LATE_SHARE,
    LEVELLING_MIN_POINTS,
    LONG_CYCLE_SHARE,
    MAX_STEPS,
    MIN_FLOOR_POINTS,
    MIN_RISE_BYTES,
    MIN_RISE_FRACTION,
    MIN_RISE_RATE,
    MIN_RISE_SIGMAS,
    MIN_SAMPLES,
    NEAR_LIMIT,
    PLATEAU_TEST_POINTS,
    RATE_NOW_Z,
    RESTART_STARTUP_S,
    SAWTOOTH_AMPLITUDE,
    SHORT_GC_S,
    STARTUP_FRACTION,
    STEADY_RATE_KEPT,
    STEP_RISE_SHARE,
    STEPS_QUIET_SPACINGS,
    TAIL_FRACTION,
    TTL_WARN_S,
    WEAK_ALPHA,
)
from memdoctor.analysis.trend import (
    FillFit,
    Trend,
    diff_sigma,
    exp_fit,
    f_quantile_2,
    fill_and_line_fit,
    hinge_fit,
    line_fit,
    mann_kendall_sen,
    rank_sum_p_below,
    robust_sigma,
    slows_down,
    student_t_quantile,
)
from memdoctor.units import format_bytes, format_duration, format_p, format_rate

# What a floor that rose and then held flat is read as (the engine amends it when the plateau is not yet shown).
PLATEAU_READING = "warm-up or cache fill, not a leak"
# The reading of a significant rise below the relevance bar; the engine drops it where a steady rise's rate
# (engine._steady_rise) makes the verdict a leak.
TOO_SMALL_READING = "the rise is significant but too small to matter"
# The reading of troughs that rose less than a quarter of the GC swing in a short trace (heap sizing); the engine
# drops it too where a steady rise decides a leak.
HEAP_SIZING_READING = "the troughs moved less than a quarter of the GC swing"
# The reading of a floor without a significant rise; the engine drops it where the floor test decides a leak.
NO_GROWTH_READING = "no significant growth"
# The reading of a large rise only weakly significant (inconclusive); dropped too where the floor test decides.
WEAK_TREND_READING = "weak upward trend of the floor"
# The reading of a rise that decelerates (inconclusive); the engine replaces it where the floor test decides.
DECELERATING_READING = "warm-up or cache fill cannot be told from a leak until it levels off"
# A staircase whose quiet since its last step is still short of saying the steps stopped (_steps_not_yet_stopped).
STEPS_WAIT_READING = "memory kept per job if the steps go on, a fill in steps if they have stopped"


@dataclass
class SegmentResult:
    verdict: str
    pattern: str
    slope: float = 0.0
    slope_low: float = 0.0
    slope_high: float = 0.0
    confidence: float = 0.5
    evidence: list[str] = field(default_factory=list)
    watch_more_s: float | None = None
    floor_start: float | None = None
    floor_now: float | None = None
    excursion: float = 0.0
    exp_model: tuple[float, float, float, float] | None = None  # (r, a, b, t0) of a + b exp(r (t - t0))
    start_t: float = 0.0
    end_t: float = 0.0
    peak: float = 0.0
    floor_t: np.ndarray | None = None  # the floor points the trend was measured on (for plots)
    floor_m: np.ndarray | None = None
    # The rise a leak must show over the floor points' span (_leak_bar), and that span: with the slope's band, whether
    # the trend rules a leak out (engine: a level series around one drop).
    leak_bar: float | None = None
    floor_span_s: float = 0.0
    # The reading "the floor rose, then held flat: a fill" (PLATEAU_READING), whatever the shape is named: a fill under
    # GC cycles is named sawtooth (_fill_under_cycles), and the engine weighs the reading, not the name.
    held_flat: bool = False


def _oscillation(b: Buckets, i0: int, i1: int, fl: Floor) -> tuple[float, int]:
    """Swing of memory above its floor (p95 of peaks above the floor envelope) and how many
    times it went from the floor to the top of that swing and back (with hysteresis)."""
    t = b.t[i0:i1]
    if len(t) < 8:
        return 0.0, 0
    envelope = np.interp(t, fl.t, fl.m)
    r_hi = b.hi[i0:i1] - envelope
    r_lo = b.lo[i0:i1] - envelope
    swing = float(np.percentile(r_hi, 95))
    if swing <= 0:
        return 0.0, 0
    if float(np.median(r_hi - r_lo)) >= 0.5 * swing:
        return swing, len(t)  # whole cycles inside each bucket
    mid = 0.5 * (r_hi + r_lo)
    state = np.where(mid < 0.3 * swing, -1, np.where(mid > 0.7 * swing, 1, 0))
    state = state[state != 0]
    cycles = int(np.count_nonzero((state[1:] == 1) & (state[:-1] == -1)))
    return swing, cycles


def _step_fit(y: np.ndarray, sigma: float, max_segments: int = 60) -> tuple[np.ndarray, float]:
    """Piecewise-constant fit by binary segmentation with a BIC-like penalty.

    Returns the segment boundaries (indices where a new level starts) and the residual SSE.
    """
    n = len(y)
    pen = 3.0 * max(sigma, 1e-9) ** 2 * math.log(max(n, 3))
    bounds = [0, n]
    cs = np.concatenate(([0.0], np.cumsum(y)))
    cs2 = np.concatenate(([0.0], np.cumsum(y * y)))

    def sse(a: int, b: int) -> float:
        s1 = cs[b] - cs[a]
        return float(cs2[b] - cs2[a] - s1 * s1 / (b - a))

    def best_split(a: int, b: int) -> tuple[float, int]:
        if b - a < 4:
            return 0.0, -1
        k = np.arange(a + 2, b - 1)
        left = (cs2[k] - cs2[a]) - (cs[k] - cs[a]) ** 2 / (k - a)
        right = (cs2[b] - cs2[k]) - (cs[b] - cs[k]) ** 2 / (b - k)
        gain = sse(a, b) - (left + right)
        j = int(np.argmax(gain))
        return float(gain[j]), int(k[j])

    while len(bounds) - 1 < max_segments:
        cands = [best_split(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
        gain, at = max(cands)
        if at < 0 or gain <= pen:
            break
        bounds = sorted([*bounds, at])
    total = sum(sse(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1))
    return np.asarray(bounds), total


class Staircase(NamedTuple):
    """What _is_step found: whether the floor climbs as a staircase, how many sharp jumps, their median height, and
    where each sharp jump lands (the first point of its new level, on the x the floor was given)."""
    ok: bool
    n_jumps: int
    jump: float
    at: tuple[float, ...] = ()


def _is_step(x: np.ndarray, y: np.ndarray, rise: float) -> Staircase:
    """A floor that rises in a few large, sharp jumps separated by flat stretches.

    A piecewise-constant fit (binary segmentation) must need few levels, its jumps must carry
    the rise, and each jump must happen at once (within two floor intervals, and far above the
    point-to-point noise and the floor's scatter about its levels). A line, or a line under slowly
    wandering noise, cut into a staircase fails the last test: its "jumps" are the sum of many small
    changes.
    """
    n = len(y)
    if n < 10 or rise <= 0:
        return Staircase(False, 0, 0.0)
    slope, intercept, _ = line_fit(x, y)
    dsig = diff_sigma(y)
    sigma = max(robust_sigma(y - (intercept + slope * x)) * 0.5, dsig)
    bounds, _ = _step_fit(y, sigma, MAX_STEPS + 1)
    n_seg = len(bounds) - 1
    # A staircase that needs every segment it is allowed is a continuous climb, not steps.
    if n_seg < 3 or n_seg > MAX_STEPS or n_seg > 0.3 * n:
        return Staircase(False, max(n_seg - 1, 0), 0.0)
    levels = np.array([float(np.median(y[bounds[k] : bounds[k + 1]])) for k in range(n_seg)])
    jumps = np.diff(levels)
    up = jumps > 0
    # The jumps carry the rise, no less and no more than it within STEP_RISE_SHARE.
    if (jumps[up].sum() < 0.8 * np.abs(jumps).sum() or jumps[up].sum() < STEP_RISE_SHARE * rise
            or jumps[up].sum() > rise / STEP_RISE_SHARE):
        return Staircase(False, int(up.sum()), 0.0)
    # A jump is seen as a step only far above how much the floor strays from its levels (the root mean square of
    # the floor about the staircase), with the same four sigmas as above the point-to-point noise: a page-quantized
    # floor's point-to-point noise is nearly 0 (most steps are 0), and V8 committing its heap in 0.7 MiB chunks
    # under 0.4 MiB wiggles read "25 steps of about 692 KiB, flat in between" on a plain line (a new recording,
    # tests/data/shapes/node_map_leak_low_90s.csv). benchmarks/classifier labels a staircase "step" by the same bar
    # (steps of at least 4 noise sigmas).
    scatter = float(np.sqrt(np.mean((y - np.repeat(levels, np.diff(bounds))) ** 2)))
    sharp = 0.0
    at: list[float] = []
    for k, jump in zip(bounds[1:-1], jumps, strict=True):
        if jump <= 0:
            continue
        at_once = float(y[min(k + 1, n - 1)] - y[k - 1])
        if at_once >= 0.5 * jump and at_once >= 4.0 * max(dsig, scatter):
            sharp += jump
            at.append(float(x[k]))
    ok = len(at) >= 2 and sharp >= 0.6 * rise
    return Staircase(ok, len(at), float(np.median(jumps[up])), tuple(at))


def _steps_not_yet_stopped(x: np.ndarray, y: np.ndarray, span: float) -> tuple[Staircase, float, float] | None:
    """A floor that rose in two or more sharp steps (`_is_step`) and has been flat since its last one for less than
    STEPS_QUIET_SPACINGS times their mean spacing: (the staircase, the spacing, the time since the last step), else
    None (no staircase, or a quiet long enough to say the steps stopped)."""
    steps = _is_step(x, y, float(y[-1] - y.min()))
    if not steps.ok:  # ok: two or more sharp jumps, so at least one spacing
        return None
    spacing = float(np.mean(np.diff(steps.at)))
    waited = span - steps.at[-1]
    if spacing <= 0 or waited >= STEPS_QUIET_SPACINGS * spacing:
        return None
    return steps, spacing, waited


def _steps_text(n_jumps: int, jump: float) -> str:
    return (f"the floor rose in {n_jumps} steps of about {format_bytes(jump)} each, flat in between "
            "(memory kept per job or per batch)")


def staircase(cl: Clean) -> str | None:
    """The evidence line when the window minima of a whole series climb as a staircase (`_is_step`), else None.

    For a rise the floor test found where the classifier had too few GC cycles to name its shape: a Node job
    runner keeping ~10 MB per job every 7 s showed two compaction drops in 90 s (3 troughs, "too few"), and the
    leak the floor test found was called linear where the plot shows 12 steps. The minima of windows (not the
    troughs) are the floor here because there are too few troughs to have a shape; the start-up transient is
    left out as in `_analyse_segment`."""
    b = decimate(cl.t, cl.m)
    skip = int(STARTUP_FRACTION * len(b.t)) if len(b.t) > 50 else 0
    t, lo = b.t[skip:], b.lo[skip:]
    if len(t) < MIN_FLOOR_POINTS:
        return None
    fl = compute_floor(t, lo, max(float(np.median(lo)), 1.0))
    if fl.from_troughs and len(fl.t) >= MIN_FLOOR_POINTS:
        return None  # enough troughs: the classifier named the shape from them
    ft, fm = window_minima(t, lo)
    steps = _is_step(ft - ft[0], fm, float(fm[-1] - fm.min()))
    return _steps_text(steps.n_jumps, steps.jump) if steps.ok else None


def _exponential(x: np.ndarray, y: np.ndarray, first_half: Trend,
                 second_half: Trend) -> tuple[tuple[float, float, float], str] | None:
    """((r, a, b), evidence line) when the floor (x from 0, y) accelerates as a + b*exp(r x), else None.

    Accelerating: the second half's Sen slope significant and over twice the first's. Exponential: the fit's
    excess grows at least e^1.2 (3.3x) over the span, and it leaves under half a straight line's squared residual
    and under 0.9 of the best broken line's (a hinge: a leak that started late is two lines, not a curve)."""
    if not (second_half.slope > 2.0 * max(first_half.slope, 0.0) and second_half.p_up < ALPHA) or len(y) < 12:
        return None
    span = float(x[-1])
    rates = np.linspace(0.5, 12.0, 24) / max(span, 1e-9)
    r, ea, eb, sse_exp = exp_fit(x, y, rates)
    _, _, sse_lin = line_fit(x, y)
    _, _, _, sse_hinge = hinge_fit(x, y, min_side=max(3, len(y) // 10))
    if not (r * span >= 1.2 and eb > 0 and sse_exp < 0.5 * sse_lin and sse_exp < 0.9 * sse_hinge):
        return None
    return (r, ea, eb), (f"accelerating: the floor fits a + b*exp(t/{format_duration(1 / r)}) (residual "
                         f"{sse_exp / max(sse_lin, 1e-9):.0%} of a straight line's); the excess doubles every "
                         f"{format_duration(math.log(2) / r)}")


def acceleration(t: np.ndarray, m: np.ndarray) -> tuple[tuple[float, float, float, float], str] | None:
    """The exponential model (r, a, b, t0) and its evidence line when floor points (t, m) accelerate (`_exponential`),
    else None.

    For a rise the floor test found where the classifier had too few GC cycles to name its shape, on the floor test's
    own points (one per cycle or per bin): a Node service whose retries hedge new retrying calls climbed 40 -> 930 MiB
    in 90 s in steps with four small settles (4 troughs, "too few"), and the leak was called sawtooth, with a
    straight line's time to the limit (a new program recorded, 2026-12-06). Not on window minima: a sawtooth riding
    on them hid a leak that started late from the broken-line fit, and a hinge read as a curve (a review of 74d0d12:
    a forecast 4-20x too short)."""
    if len(t) < 12:
        return None
    x = np.asarray(t, dtype=float) - float(t[0])
    y = np.asarray(m, dtype=float)
    half = float(x[-1]) / 2
    fit = _exponential(x, y, mann_kendall_sen(x[x <= half], y[x <= half]),
                       mann_kendall_sen(x[x >= half], y[x >= half]))
    if fit is None:
        return None
    # Still accelerating at the end: the last quarter climbs faster than the third. A leak that started late is a
    # line there, and a curve through a rounded corner (floor points binned across it) beat the broken line by the
    # 10 % _exponential asks (a review: 1 to 2 % of random late starts under 2-5 drops read exponential, with
    # forecasts 4-20x too short). For the curve the ratio of the two quarters' slopes is e^(r span / 4) >= 1.35.
    third = (x >= half) & (x <= 1.5 * half)
    last = x >= 1.5 * half
    if (np.count_nonzero(third) < 3 or np.count_nonzero(last) < 3
            or not mann_kendall_sen(x[last], y[last]).slope > mann_kendall_sen(x[third], y[third]).slope_high):
        return None
    (r, ea, eb), line = fit
    return (r, ea, eb, float(t[0])), line


def _floor_period(fl: Floor) -> tuple[float, float] | None:
    """Period and swing (p5 to p95 around its trend) of a window floor that goes up *and back down* by >= 15% of
    its level, repeatedly."""
    if len(fl.m) < 12:
        return None
    level = max(float(np.median(fl.m)), 1.0)
    x = fl.t - fl.t[0]
    slope, intercept, _ = line_fit(x, fl.m)
    y = fl.m - (intercept + slope * x)  # a leak under the cycles must not hide them
    low = float(np.percentile(y, 5))
    swing = float(np.percentile(y, 95)) - low
    if swing < SAWTOOTH_AMPLITUDE * level:
        return None
    # The floor itself must come back down (a staircase minus its trend line only seems to).
    descent = float(np.sum(np.maximum(-np.diff(fl.m), 0.0)))
    if descent < 2.0 * swing:
        return None
    state = np.where(y < low + 0.3 * swing, -1, np.where(y > low + 0.7 * swing, 1, 0))
    state = state[state != 0]
    changes = int(np.count_nonzero(state[1:] != state[:-1]))
    if changes < 4:  # at least two rises and two falls
        return None
    return float(fl.t[-1] - fl.t[0]) / (changes / 2), swing


def _spikes(fl: Floor, lo: np.ndarray, level: float) -> np.ndarray | None:
    """Which samples are spikes (True), when the drops took back only spikes and memory rose between them: the floor
    rose where the troughs between the drops cannot see it. Else None. A spike is the run of samples above where its
    drop landed, up to the drop.

    A drop took back a spike when memory stood at or below where it landed for most of the time since the drop before
    it. A collector's drop takes back its cycle's climb, so memory stood above the landing for most of the cycle (all
    of it on a level floor, all but the rise of the floor on a leak's); a job's spike rises and falls within a few
    samples, its drop landing on the level memory held before it (or above it, on a job runner's staircase). The
    first interval opens at the window's start, anywhere in a cycle: judged like the others. Memory rose between the
    spikes when the levels it held just before them stood above where the drops before them had landed by, summed,
    a rise that matters (MIN_RISE_FRACTION of the level) and half the landings' own rise or more. Otherwise the
    landings carry the floor: a periodic batch job's drops, each landing on the idle level its batch rose from, with a
    leak kept per batch (its idle floor steps up at each batch only), read "plateau" from window minima whose last
    step was followed by 10 s of idle (benchmarks/gate_families.py periodic_batch at 50 MiB/min, seed 2027 #18)."""
    if not len(fl.drops):
        return None
    tol = 3.0 * robust_sigma(np.diff(lo)) if len(lo) > 2 else 0.0
    start, between = 0, 0.0
    spikes = np.zeros(len(lo), dtype=bool)
    for i in fl.drops:
        below = np.flatnonzero(lo[start:i + 1] <= float(lo[i + 1]) + tol)
        if len(below) <= 0.5 * (i + 1 - start):
            return None
        spikes[start + below[-1] + 1:i + 1] = True
        between += max(float(lo[start + below[-1]] - lo[start]), 0.0)
        start = i + 1
    landings = lo[np.asarray(fl.drops) + 1]
    if between < max(MIN_RISE_FRACTION * level, 0.5 * float(landings[-1] - landings[0])):
        return None
    return spikes


def _too_few(fl: Floor, what: str, span: float, level: float, swing: float) -> SegmentResult:
    """Too few troughs for a trend test: flat ones are a (weak) no-leak, rising ones undecided.

    `swing`: how far memory climbs above the floor (`_oscillation`). A level floor under two or more large
    drops is a sawtooth on any plot (a Node batch of 60 MB of Buffers every 4 s, freed only when V8 collects
    their wrappers: two drops in 90 s of 110 -> 165 MiB climbs was called "stable")."""
    n_points = len(fl.t)
    need = max(MIN_FLOOR_POINTS - n_points, 2)
    per_point = fl.cycle_s if fl.cycle_s else (span / max(n_points, 1) if span > 0 else None)
    watch = need * per_point * 1.5 if per_point else None
    pattern = "sawtooth" if fl.from_troughs and len(fl.drops) >= 3 else "stable"
    if n_points >= 2:
        y = fl.m[1:] if n_points >= 3 else fl.m  # the first interval may start mid-cycle
        rise = float(y[-1] - y.min())
        if rise < max(MIN_RISE_FRACTION * level, MIN_RISE_BYTES) and float(np.ptp(y)) < 0.1 * level:
            if len(fl.drops) >= 2 and swing >= SAWTOOTH_AMPLITUDE * level:
                pattern = "sawtooth"
            ev = [
                f"only {n_points} {what}, and the floor between them held level within "
                f"{format_bytes(float(np.ptp(y)))}: no sign of a leak, but {MIN_FLOOR_POINTS}+ are "
                "needed for a trend test"
            ]
            return SegmentResult("no-leak", pattern, confidence=0.4, evidence=ev)
    # How much longer goes in watch_more_s, not in this line: the engine says it when the answer stays undecided
    # (a leak the floor test found here read "leak, 0.99" above "... watch about 1m47s more").
    ev = [f"only {n_points} {what} in the trace: at least {MIN_FLOOR_POINTS} are needed to judge a trend"]
    res = SegmentResult("inconclusive", pattern, confidence=0.1, evidence=ev, watch_more_s=watch)
    if n_points >= 3:
        # Too few points for a significance test, but their slope is still the best estimate of the
        # growth: report it (low confidence) rather than 0, so that a --max-growth budget sees it.
        # The first point may start mid-cycle: skip it, as above.
        # The measured slope, even negative: a budget or a report must see what was measured.
        tr = mann_kendall_sen(fl.t[1:] - fl.t[1], fl.m[1:])
        res.slope, res.slope_low, res.slope_high = tr.slope, tr.slope_low, tr.slope_high
        res.evidence.append(f"the troughs between them moved {format_rate(tr.slope)} (too few for a trend test)")
    return res


def _first_is_a_trough(fl: Floor, lo: np.ndarray) -> bool:
    """Whether the first interval's minimum is a trough the ordering test may count, though compute_floor kept it
    (fewer than six intervals): memory came down to it, by more than its noise (MIN_RISE_SIGMAS), after the window
    opened. The first interval is left out because its minimum may be the window's first sample: a recording that
    opens part way up a climb (too high, which only breaks a rising order) or on a fresh process still loading (too
    low, which makes one: the later troughs then need only order themselves, 1 in 4! = 24). A minimum that memory
    fell to is neither. A job runner keeping 30 MiB per job, 4 jobs in 108 minutes, each job a spike above the
    level it leaves (benchmarks/classifier step_leak #5, seed 3: troughs 110, 141, 172, 201, 232 MiB, each level flat
    within 1 MiB), read "inconclusive: only 5 GC cycles in the trace"."""
    first = lo[: int(fl.drops[0]) + 1] if len(fl.drops) else lo
    k = int(np.argmin(first))
    return k > 0 and float(first[:k].max() - first[k]) >= MIN_RISE_SIGMAS * diff_sigma(lo)


def _every_trough_higher(fl: Floor, t: np.ndarray, lo: np.ndarray, span_all: float, swing: float,
                         limit: int | None) -> SegmentResult | None:
    """A leak from fewer troughs than the trend test needs, when the evidence is overwhelming; else None.

    Every trough above the one before, FEW_TROUGHS_RISING of them (six intervals, the first left out by
    compute_floor as mid-cycle): were there no trend, any order of the troughs would be as likely, and this one comes
    1 in 5! = 120, under ALPHA (Mann-Kendall's exact distribution, which its normal approximation cannot give this
    few points). The rise must also matter: the Sen line's rise over the troughs past the leak bar (one early step
    then a level ordered by noise passes a last-minus-first test, with a Sen slope of 0: a review); be no heap sizing
    (a short trace's troughs moving less than GC_DRIFT_FRACTION of the swing); and not slow down: the troughs' rate
    over their second half at least FEW_TROUGHS_LAST_RISE of their first half's (a fill that levels off slows first).
    A job runner keeping 110 MiB per job, each job's work a short spike above the kept level (benchmarks/
    classifier step_leak #94, seed 7: five troughs 472 -> 924 MiB over 3 hours) read "inconclusive: only 5 GC
    cycles in the trace" (issue 20: "a leak after 4 cycles or after 40")."""
    if not fl.from_troughs or len(fl.t) < FEW_TROUGHS_RISING:
        return None
    if not (fl.first_left_out or _first_is_a_trough(fl, lo)):
        return None
    ft, y = fl.t, fl.m
    if not bool(np.all(np.diff(y) > 0)):
        return None
    n = len(y)
    x = ft - ft[0]
    span = float(x[-1])
    tr = mann_kendall_sen(x, y)
    if tr.slope * span < _leak_bar(max(float(y[0]), 1.0), limit, span, diff_sigma(lo), n):
        return None
    if span_all < SHORT_GC_S and tr.slope * span < GC_DRIFT_FRACTION * swing:
        return None
    # Timed by where each trough's interval starts (the drop before it): a level's minimum falls anywhere in it.
    after = np.asarray(fl.drops, dtype=int) + 1
    starts = t[after[:n]] if fl.first_left_out else np.concatenate((t[:1], t[after[:n - 1]]))
    if slows_down(starts, y):
        return None
    res = SegmentResult("leak", "linear", slope=tr.slope, slope_low=tr.slope_low, slope_high=tr.slope_high,
                        confidence=0.7, floor_t=ft, floor_m=y, floor_span_s=span)
    res.floor_start = float(y[0])
    res.floor_now = tr.at(float(t[-1] - ft[0]))
    res.evidence.append(
        f"every one of {n} troughs was higher than the one before ({format_bytes(float(y[0]))} -> "
        f"{format_bytes(float(y[-1]))} over {format_duration(span)}, Sen slope {format_rate(tr.slope)}): "
        f"no trend orders {n} troughs so but 1 time in {math.factorial(n)}")
    # Ten windows a cycle: a shorter window can hold nothing but a job's spike, a "level" of its own.
    wt, wm = window_minima(t, lo, 10 * (len(fl.drops) + 1))
    steps = _is_step(wt - wt[0], wm, float(wm[-1] - wm.min()))
    if steps.ok:
        res.pattern = "step"
        res.floor_now = float(y[-1])
        res.evidence.append(_steps_text(steps.n_jumps, steps.jump))
    elif swing >= SAWTOOTH_AMPLITUDE * max(float(np.percentile(y, 10)), 1.0):
        # The trend test's own bar for naming a sawtooth (_analyse_segment), so the two paths name one shape alike.
        res.pattern = "sawtooth"
        res.evidence.append(f"sawtooth: memory swings {format_bytes(swing)} above its floor, {len(fl.drops)} GC drops")
    return res


def _relevant_rate(level: float, limit: int | None) -> float:
    """The growth rate that matters whatever its share of the level: MIN_RISE_RATE, or less when it would
    take the floor to a known limit within TTL_WARN_S (a day): a 417 KiB/min leak in a 165 MB process read
    "no-leak" beside its own "512 MB limit in 14h05m" (2.9 MiB in 7 min, under 2 % of the level)."""
    if limit is None or limit <= level:
        return MIN_RISE_RATE
    return min(MIN_RISE_RATE, (limit - level) / TTL_WARN_S)


def _relevant_rise(level: float, limit: int | None, span: float) -> float:
    """The rise over `span` that matters: MIN_RISE_FRACTION of the level, or the relevant rate over the span,
    whichever is smaller, and at least MIN_RISE_BYTES."""
    return max(min(MIN_RISE_FRACTION * level, _relevant_rate(level, limit) * span), MIN_RISE_BYTES)


def _leak_bar(level: float, limit: int | None, span: float, sigma: float, points: int) -> float:
    """How far the floor must rise over `span` to be a leak: the rise that matters (_relevant_rise), and what the
    noise makes: 2 sigmas of one floor point, or (with many points, whose trend is known much better than any one
    point) 4 standard errors of the fitted rise."""
    noise_floor = min(MIN_RISE_SIGMAS * sigma, 4.0 * sigma * math.sqrt(12.0 / max(points, 1)))
    return max(_relevant_rise(level, limit, span), noise_floor)


def _analyse_segment(b: Buckets, i0: int, i1: int, *, first: bool, limit: int | None = None,
                     floor: Floor | None = None) -> SegmentResult:
    """Classify the bucket range [i0, i1) of one process lifetime (on `floor`, when given: the floor between a few
    drops that took back only spikes, `_spikes`)."""
    t = b.t[i0:i1]
    lo = b.lo[i0:i1]
    span_all = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    peak = float(b.hi[i0:i1].max())
    # Start-up transient: the runtime loading at the start of the lifetime (the first 1%; after
    # a restart, up to a minute, at most 10%).
    startup = STARTUP_FRACTION * span_all
    if not first:
        startup = max(startup, min(RESTART_STARTUP_S, 0.1 * span_all))
    skip = int(np.searchsorted(t, t[0] + startup, side="left")) if len(t) > 50 else 0
    if skip >= len(t) - MIN_FLOOR_POINTS:
        skip = 0
    t, lo = t[skip:], lo[skip:]
    level_guess = max(float(np.median(lo)), 1.0)
    fl = compute_floor(t, lo, level_guess) if floor is None else floor
    if len(fl.t) < MIN_FLOOR_POINTS:
        what = "GC cycles" if fl.from_troughs else "floor points"
        swing0 = _oscillation(b, i0 + skip, i1, fl)[0]
        res = _every_trough_higher(fl, t, lo, span_all, swing0, limit)
        spikes = _spikes(fl, lo, level_guess) if res is None and fl.from_troughs else None
        if spikes is not None:
            # Too few "cycles", whose drops only took back a spike each: no collector's cycles, so the floor is what
            # memory held between them, the spikes' samples left out. A job runner keeping 12 MB per job, each job's
            # work a spike of a second or two, 15 steps in 3 minutes at 1 s sampling of which 5 spikes were sampled,
            # read "inconclusive, only 5 GC cycles in the trace" (a new program recorded, 2026-12-07). Only a leak or
            # a fill that held flat is taken from that floor: its other answers are no better founded than the few
            # troughs' (a review, 6,000 traces with spikes: with them, 5 leaks read no-leak, a staircase of three
            # jobs "warm-up or cache fill" among them; without, none).
            spiky = Floor(*window_minima(t[~spikes], lo[~spikes]), fl.drops, fl.drop_sizes, False, fl.cycle_s)
            between = _analyse_segment(b, i0, i1, first=first, limit=limit, floor=spiky)
            if between.verdict == "leak" or (between.verdict == "no-leak" and between.held_flat):
                return between
        res = res or _too_few(fl, what, span_all, level_guess, swing0)
        if res.verdict == "leak":
            res.floor_now = _floor_at_end(res.floor_now or 0.0, b, i0, i1)
        res.start_t, res.end_t, res.peak = float(b.t[i0]), float(b.t[i1 - 1]), peak
        return res
    cyclic = False
    aliased = False
    floor_cycle = None
    if not fl.from_troughs:
        floor_cycle = _floor_period(fl)
        if floor_cycle is not None:
            period = floor_cycle[0]
            # The "floor" itself rises and falls (batch jobs, slow cycles): windows shorter than
            # a cycle catch the busy phase. Windows of 1.5 cycles reach the idle level.
            k = max(int(span_all / (1.5 * period)), 2)
            point_sd = robust_sigma(np.diff(fl.m)) / math.sqrt(2.0)
            if k < PLATEAU_TEST_POINTS and FLOOR_CYCLE_SIGMAS * point_sd > 0.4 * floor_cycle[1]:
                # Window minima that swing 15 % of their level from one window to the next with no cycle of their own
                # (the bands of _floor_period are not FLOOR_CYCLE_SIGMAS noise sigmas apart), where the windows of 1.5
                # "cycles" would be too few for the plateau test: judged as a sawtooth sampled slower than its period,
                # on the coarse floor. Taken for a cycle of the floor, a fill under one (5 hours of fill, then 11 hours
                # level: benchmarks/classifier sawtooth_fill #88, seed 7) was judged on 8 windows and read "leak".
                # With windows enough for the plateau test they stay: lag-one scatter cannot tell aliasing from a real
                # cycle caught in 3-6 windows (jobs every 10-16 minutes over a slow leak lost it to the coarse floor's
                # mix of busy and idle windows: a review of the first version).
                aliased, floor_cycle = True, None
                coarse = _coarse_floor(t, lo, level_guess)
                if len(coarse.t) >= MIN_FLOOR_POINTS:
                    fl = coarse  # whatever its count: the fine floor is the sampling's scatter
            else:
                wide = compute_floor(t, lo, level_guess, max_points=k)
                if len(wide.t) >= MIN_FLOOR_POINTS:
                    fl = wide
                else:
                    # Too few cycles for a floor of idle levels: judge the fine floor (a periodic
                    # floor has no monotonic trend) and call the shape what it is.
                    cyclic = True
    swing, cycles = _oscillation(b, i0 + skip, i1, fl)
    # Over a floor between spikes (`floor`), memory's swings above it are the spikes, not a collector's cycles.
    sawtooth = floor is None and (cyclic or aliased or (
        cycles >= 3 and swing >= SAWTOOTH_AMPLITUDE * max(float(np.percentile(fl.m, 10)), 1.0)))
    if sawtooth and not fl.from_troughs and len(t) / len(fl.t) < 24:
        # A sawtooth sampled slower than its period: its window minima are noisy unless the
        # windows hold enough samples; fewer, larger windows make a much steadier floor.
        coarse = _coarse_floor(t, lo, level_guess)
        if len(coarse.t) >= 4 * MIN_FLOOR_POINTS:
            fl = coarse

    x = fl.t - fl.t[0]
    y = fl.m
    span = float(x[-1])
    tr = mann_kendall_sen(x, y)
    level0 = max(tr.at(0.0), float(np.min(y)), 1.0)
    sigma = max(robust_sigma(y - (tr.intercept + tr.slope * x)), diff_sigma(y))
    rise = tr.slope * span
    min_rise = _leak_bar(level0, limit, span, sigma, len(y))
    what = "troughs" if fl.from_troughs else "floor"
    base_ev = (
        f"{what} {'rose' if rise >= 0 else 'fell'} {format_bytes(abs(rise))} over {format_duration(span)} "
        f"({len(y)} points, Mann-Kendall {format_p(tr.p_up)}, Sen slope {format_rate(tr.slope)})"
    )
    res = SegmentResult("no-leak", "stable", slope=tr.slope, slope_low=tr.slope_low, slope_high=tr.slope_high,
                        floor_t=fl.t, floor_m=fl.m, leak_bar=min_rise, floor_span_s=span)
    res.start_t, res.end_t, res.peak = float(b.t[i0]), float(b.t[i1 - 1]), peak
    res.floor_start = float(level0)
    x_end = float(b.t[i1 - 1] - fl.t[0])
    res.floor_now = _floor_at_end(tr.at(x_end), b, i0, i1)
    # Peaks above the floor line in the recent half: what is added on top of the floor.
    res.excursion = peaks_above(b.t[i0:i1], b.hi[i0:i1], fl.t[0] + 0.5 * span, fl.t[0], tr.intercept, tr.slope)
    saw_ev = f"sawtooth: memory swings {format_bytes(swing)} above its floor" + (
        f", {len(fl.drops)} GC drops" if fl.from_troughs else f", {cycles} cycles"
    )
    if cyclic and floor_cycle is not None:
        # The floor itself is the cycle (too few samples per cycle for a floor under it): "memory swings 0 B above
        # its floor, 0 cycles" stood under "sawtooth" for a V8 heap series sampled every 5 s.
        saw_ev = (f"sawtooth: the floor itself rises and falls by about {format_bytes(floor_cycle[1])} every "
                  f"{format_duration(floor_cycle[0])}")

    significant = tr.p_up < ALPHA
    plateau = (_flat_tail(x, y, min_rise, sigma, level0, limit, own_bar=sawtooth)
               if rise >= min_rise or not significant else None)
    grew = significant and rise >= min_rise
    gc_drift = grew and sawtooth and span_all < SHORT_GC_S and rise < GC_DRIFT_FRACTION * swing
    shown_flat = plateau is not None and plateau.shown_flat
    # A long level tail (held_long) also answers a weak trend, which it explains as the fill's: the weak-trend rule
    # below read "inconclusive, watch about 13h12m more" beside 411 MiB of fill under GC ramps in the first hours of
    # 13 (p = 0.019 over the window; benchmarks/classifier sawtooth_fill #33, seed 99).
    weak_rise = tr.p_up < WEAK_ALPHA and rise >= min_rise
    if plateau is not None and not shown_flat and (not grew or gc_drift):
        plateau = None  # a slowdown matters only where the rise would be called a leak; else judged below
    if plateau is not None and plateau.held_long and ((not grew and not weak_rise) or gc_drift):
        plateau = None
    if plateau is not None:
        # Under a GC sawtooth too: a cache or heap filling to its size under its collector's ramps has troughs that
        # climb, then hold (rw_node_lru_long_fill; benchmarks/classifier's sawtooth_fill family read "inconclusive:
        # growth is decelerating" in 23 of 40 traces whose floor had held flat for hours, and leak in 5).
        tail_start, tail_tr, head_rise, tail_bar, _, _ = plateau
        quiet = _steps_not_yet_stopped(x, y, span)
        if quiet is not None:
            # Not a fill: the rise came in sharp steps, and the quiet since the last one is still short of what
            # says they stopped. A job runner keeping 150 MB at 25 s and at 60 s, flat for the last 30 s, read
            # "warm-up or cache fill, not a leak", while the same staircase with its second step 10 s later read
            # "leak (step)" (a new program recorded, 2026-12-06). The growth shown is the whole window's rise (the
            # engine takes the floor test's line where it measured one), not the plateau's flat tail.
            steps, spacing, waited = quiet
            res.verdict, res.pattern, res.confidence = "inconclusive", "step", 0.3
            res.watch_more_s = STEPS_QUIET_SPACINGS * spacing - waited
            # Not the whole floor's Theil-Sen line as a rise of its own: it discounts steps that most points sit above
            # or below ("floor rose 15.9 MiB" beside "2 steps of about 228.3 MiB each", a review).
            res.evidence.append(
                f"the floor rose in {steps.n_jumps} steps of about {format_bytes(steps.jump)} each, the last "
                f"{format_duration(waited)} ago and flat since, under {STEPS_QUIET_SPACINGS:g} times their mean "
                f"spacing of {format_duration(spacing)}: {STEPS_WAIT_READING}")
            return res
        res.verdict = "no-leak"
        # The growth shown is the measured one (the plateau's own slope and band), never a rounded 0.
        res.slope, res.slope_low, res.slope_high = tail_tr.slope, tail_tr.slope_low, tail_tr.slope_high
        tail_level = float(np.median(y[x >= tail_start]))
        # When the floor first came within half the leak bar of the tail's level: where the rise ended (the tail's
        # start is only where flatness was tested from; a job runner up in its first 10 s "rose in the first 1m11s").
        near = np.flatnonzero(y >= tail_level - 0.5 * min_rise)
        reached = float(x[near[0]]) if len(near) else tail_start
        res.pattern = "sawtooth" if sawtooth and not _fill_under_cycles(head_rise, reached, fl, floor_cycle, swing) \
            else "plateau"
        tail_s = span - tail_start
        tail_rise = max(tail_tr.slope, 0.0) * tail_s
        tail_ev = (f"(the last {format_duration(tail_s)}: Sen slope {format_rate(tail_tr.slope)}, "
                   f"Mann-Kendall {format_p(tail_tr.p_up)})")
        res.floor_now = tail_level
        if not shown_flat or (tail_tr.p_up >= ALPHA and tail_rise >= tail_bar):
            # Slower than the rise by 4x, but the tail alone rose by what a leak must show over it, only not
            # significantly: not "held flat ... not a leak" (a Node server's 4.8 MiB/min tail, p = 0.031,
            # 2.8 MiB in 35 s after a 22.7 MiB rise in 20 s: tests/data/gate/node_server_leak_20ms.jsonl). A
            # longer watch tells a fill from a slower leak.
            res.verdict = "inconclusive"
            res.confidence = 0.3
            res.watch_more_s = max(tail_s, 0.5 * span)
            unruled = (f"still {format_bytes(tail_rise)}, as much as a leak must show" if shown_flat else
                     f"its band still holding the {format_bytes(tail_bar)} a leak must show over it")
            res.evidence.append(
                f"floor rose {format_bytes(head_rise)} in the first {format_duration(reached)}, then slowed to a "
                f"quarter of that pace or less {tail_ev}, {unruled}: a warm-up or cache fill if the floor stops, "
                "else a leak")
            if sawtooth:
                res.evidence.append(saw_ev)
            return res
        # A tail whose small rise is significant (_flat_tail's "irrelevant") is not "held flat" beside p < 0.001
        # (a full LRU cache evicting); it is said with its size against the leak bar.
        held = ("held flat" if tail_tr.p_up >= ALPHA else
                f"rose only {format_bytes(tail_rise)}, under half the {format_bytes(tail_bar)} a leak must show")
        if plateau.held_long:
            held = "held level for longer than the rise took"
        res.evidence.append(
            f"floor rose {format_bytes(head_rise)} in the first {format_duration(reached)}, then {held} "
            f"{tail_ev}: {PLATEAU_READING}"
        )
        if sawtooth:
            res.evidence.append(saw_ev)
        res.confidence = float(min(0.95, 0.55 + 0.4 * min(1.0, tail_s / span / 0.6)))
        if plateau.held_long:
            # Its band still holds a leak's rise (thresholds.HELD_LONG_CONFIDENCE says how sure such a reading was).
            res.confidence = min(res.confidence, HELD_LONG_CONFIDENCE)
        res.held_flat = True
        return res

    if gc_drift:
        # Over the first minutes, a collector's troughs drift by a fraction of its swing while
        # the heap sizes itself and promotes survivors until the first full collection.
        grew = False
    if not grew:
        # The measured floor slope and its band (set above), whatever the verdict.
        res.evidence.append(base_ev)
        res.pattern = "sawtooth" if sawtooth else "stable"
        if sawtooth:
            res.evidence.append(saw_ev)
        if gc_drift:
            # Kept a no-leak on purpose (not inconclusive): real healthy Node services do this in
            # their first minute (sample_traces/node_healthy_server: troughs +3.2 MiB/min, p < 0.001,
            # under a 32 MiB swing), so a short gate cannot tell a small leak under a large sawtooth
            # from heap sizing. The significant trough slope is still reported as the growth, so a
            # --max-growth budget judges it.
            res.confidence = 0.5
            res.evidence.append(
                f"{HEAP_SIZING_READING} in a trace shorter than "
                f"{format_duration(SHORT_GC_S)}: heap sizing, not yet evidence of a leak (watch longer to be sure)"
            )
            return res
        # The last part (LATE_SHARE): where it rises plainly and its band lies wholly above the window's, the growth
        # sped up. A leak that began late is weak over the whole window and plain since (an hour flat for 40 minutes,
        # then 2 MiB/min, read "271.6 KiB/min, limit in 17h09m", the truth 2h16m). The window's Sen line is no measure
        # of its rise: one that began at 78 % of 30 minutes and rose 40 % of the level read "floor rose 261.0 KiB ...
        # no significant growth" (benchmarks/late_shapes.py late_leak #120, seed 1), so a weak window is undecided
        # when either rose by the leak bar, the last part only where its floor has left the range memory held before
        # it (a dense GC sawtooth's troughs can rise over its last part within that range: sawtooth_v8 #26 and #35,
        # seed 1, and #1, seed 3, of benchmarks/classifier, plainly healthy, read "inconclusive" without it).
        late = x >= (1 - LATE_SHARE) * span
        late_s = span - float(x[late][0])
        sped_up = _sped_up(x, y, tr)
        old_peak = _peak_before(b, i0, float(fl.t[0] + x[late][0])) if sped_up is not None else math.inf
        left_range = sped_up is not None and sped_up.slope * late_s >= min_rise and sped_up.at(span) > old_peak
        if tr.p_up < WEAK_ALPHA and (rise >= min_rise or left_range):
            res.verdict = "inconclusive"
            res.confidence = 0.3
            res.watch_more_s = span
            res.evidence.append(f"{WEAK_TREND_READING}: watch about {format_duration(span)} more to decide")
            if sped_up is not None:
                # Its rate now is the growth shown, undecided still unless _leak_began_late says more: its time to
                # the limit warns in time (issue 20). A leak's rate now is its line since the floor left its old range:
                # the last part's line also runs through the flat before (2.1 for 3.45 MiB/min, a leak that began
                # 5.6 minutes into the last part: test_a_leak_that_began_late_in_a_short_window_is_a_leak_at_its_rate).
                began = _leak_began_late(x[late], y[late], sped_up, min_rise, old_peak)
                now = began[1] if began is not None else sped_up
                res.slope, res.slope_low, res.slope_high = now.slope, now.slope_low, now.slope_high
                res.floor_now = _floor_at_end(now.at(x_end), b, i0, i1)
                if not sawtooth:
                    res.pattern = "linear"  # a band above zero is a rise, not "stable" (as engine's short windows)
                res.evidence.append(_sped_up_text(sped_up, late_s, shown=began is None))
                if began is not None:
                    res.verdict, res.watch_more_s = "leak", None
                    res.confidence = _leak_confidence(sped_up, sped_up.slope * late_s, min_rise)
                    res.evidence = [e for e in res.evidence if not e.startswith(WEAK_TREND_READING)]
                    res.evidence.append(began[0])
            return res
        res.evidence.append(
            (f"{TOO_SMALL_READING}: a leak would need the floor to rise by >= "
             f"{format_bytes(min_rise)} ({MIN_RISE_FRACTION:.0%} of its level, or {format_rate(MIN_RISE_RATE)} over "
             f"the span, or a rate reaching the limit within {format_duration(TTL_WARN_S)})")
            if significant and rise > 0 else
            # Significant and no rise: the trend test's p beside a Sen slope of 0 (a page-quantized floor, most
            # pairs tied): "no significant growth" stood beside "Mann-Kendall p = 0.009".
            f"no measurable growth (Sen slope {format_rate(tr.slope)}): a leak would need the floor to rise by >= "
            f"{format_bytes(min_rise)}"
            if significant else
            f"{NO_GROWTH_READING}: a leak would need the floor to rise by >= {format_bytes(min_rise)}"
            if rise < min_rise else
            # A rise past the bar that the trend test cannot tell from noise: "a leak would need the floor to rise
            # by >= 2.9 MiB" stood beside "floor rose 53.4 MiB (p = 0.055)" on two GC ramps with one drop.
            f"{NO_GROWTH_READING}: the floor's rise of {format_bytes(rise)} is within what its scatter makes "
            f"({format_p(tr.p_up)}; a leak needs p < {ALPHA:g})"
        )
        # From 0.6 (a handful of points) to 0.95 (60 or more), lower the closer the rise comes to the bar. A rise
        # past the bar counts as at it: the formula went below 0 (-5.5 for that 53.4 MiB rise, printed as 0.00),
        # and the trend test, not the rise's size, says whether it is growth (short_sawtooth_fuzz.py --seed 1:
        # 3 of 3000 below 0, 10 below 0.3; none of the bundled or benchmark recordings).
        below_bar = 1 - min(max(rise, 0) / min_rise, 1.0)
        res.confidence = float(min(0.95, 0.6 + 0.35 * min(1.0, len(y) / 60) * below_bar))
        return res

    # The floor grew and has not flattened: still decelerating (undecided) or a leak?
    half = span / 2
    a = mann_kendall_sen(x[x <= half], y[x <= half])
    bt = mann_kendall_sen(x[x >= half], y[x >= half])
    decel = a.slope > 0 and bt.slope_high < 0.5 * a.slope_low
    recent = tr
    if decel:
        mid = (x >= half) & (x <= 0.75 * span)
        q3 = mann_kendall_sen(x[mid], y[mid])
        q4 = mann_kendall_sen(x[x >= 0.75 * span], y[x >= 0.75 * span])
        still = (q4.slope < 0.7 * q3.slope and q4.slope_high < q3.slope) or q4.slope <= 0
        late_rise = bt.slope * (span - half)
        if still or bt.p_up >= ALPHA or late_rise < 0.5 * min_rise:
            # A fill that has levelled and held since for longer than it took is no longer undecided (issue 20: a
            # plateau that holds for hours after a long fill is no-leak): _held_since_fill says when.
            fill = _levelled_fill(x, y, min_rise)
            if fill is not None and _held_since_fill(fill, span):
                return _fill_that_held(res, fill, span, base_ev, _floor_at_end(fill.since.at(x_end), b, i0, i1))
            res.verdict, res.pattern = "inconclusive", "plateau"
            res.slope, res.slope_low, res.slope_high = bt.slope, bt.slope_low, bt.slope_high
            res.confidence = 0.3
            res.watch_more_s = _watch_more(x, y, span)
            res.evidence.append(base_ev)
            res.evidence.append(
                f"growth is decelerating (Sen slope {format_rate(a.slope)} in the first half, "
                f"{format_rate(bt.slope)} in the second): {DECELERATING_READING}; "
                f"watch about {format_duration(res.watch_more_s)} more"
            )
            return res
        recent = bt
        res.evidence.append(
            f"fast warm-up ({format_rate(a.slope)}) then steady growth of {format_rate(bt.slope)} "
            f"(Mann-Kendall {format_p(bt.p_up)})"
        )

    if not decel and not _is_step(x, y, rise).ok:
        # A window can hold a whole cache fill that starts late: flat, a rise across the middle, then level for
        # less than the plateau test's shortest tail (30 % of the window); the half-against-half test above misses
        # it. A leak keeps its rate to the end, so the last quarter's Sen slope must not be significantly below the
        # overall slope (its 90% band clear under a quarter of it); else undecided. At any length: only short traces
        # (10 minutes) were asked, and three hours with a 230 MiB fill level for their last 50 minutes read "leak"
        # (a review's shapes, 2026-12-07: 66 of 2,400 healthy fills, steps and drifts read so, 65 of them level at
        # the end; none of its 800 late leaks changed; no generated or bundled verdict changed). Not a staircase: its
        # last quarter can fall between two steps (benchmarks/classifier step_leak #21 and #81, seed 3: regular
        # steps, the last one in the final minute or 85 minutes before the end, 95 apart, read "levelled off").
        tail = x >= (1 - TAIL_FRACTION) * span
        if np.count_nonzero(tail) >= MIN_FLOOR_POINTS:
            q4 = mann_kendall_sen(x[tail], y[tail])
            if q4.slope_high < GC_DRIFT_FRACTION * tr.slope:
                res.verdict, res.pattern = "inconclusive", "plateau"
                res.slope, res.slope_low, res.slope_high = q4.slope, q4.slope_low, q4.slope_high
                res.confidence = 0.3
                res.watch_more_s = float(span)
                res.evidence.append(base_ev)
                res.evidence.append(
                    f"the floor levelled off in the last {format_duration(TAIL_FRACTION * span)} (Sen slope "
                    f"{format_rate(q4.slope)} against {format_rate(tr.slope)} overall): a cache fill or warm-up "
                    f"cannot be told from a leak yet; watch about {format_duration(span)} more"
                )
                return res

    fill = _levelled_fill(x, y, min_rise)
    if fill is not None and _held_since_fill(fill, span):
        res.evidence = [line for line in res.evidence if not line.startswith("fast warm-up (")]
        return _fill_that_held(res, fill, span, base_ev, _floor_at_end(fill.since.at(x_end), b, i0, i1))
    if fill is not None:
        # The window's rise is a fill that levelled off, and no growth goes on beside it: no leak yet, only a longer
        # watch tells a slow leak after the fill from a level. The halves above and the tail test miss such a fill
        # over a handful of troughs (their bands are wide) or where it levelled early: a heap filling to its size in
        # its first 2 of 14 minutes under 110 MiB GC ramps, troughs 517, 672, 686, 688 ... 691 MiB, read "leak
        # (sawtooth), 1.5 MiB/min" (benchmarks/classifier sawtooth_fill #59, seed 20240611; 25 of the family's 700
        # healthy traces over seven seeds read leak). The "fast warm-up then steady growth" line gives way to this.
        now = fill.since
        res.verdict, res.pattern, res.confidence = "inconclusive", "plateau", 0.3
        res.slope, res.slope_low, res.slope_high = now.slope, now.slope_low, now.slope_high
        res.floor_now = _floor_at_end(now.at(x_end), b, i0, i1)
        res.watch_more_s = _watch_more(x, y, span)
        res.evidence = [line for line in res.evidence if not line.startswith("fast warm-up (")]
        res.evidence.append(base_ev)
        res.evidence.append(_levelled_fill_text(fill, span))
        return res
    back = _fell_back(fl, level0)
    if back is not None:
        res.verdict, res.pattern, res.confidence = "no-leak", "sawtooth", 0.6
        res.evidence.append(base_ev)
        res.evidence.append(
            f"the floor itself fell back, from {format_bytes(back.top)} to {format_bytes(back.landed)}, "
            f"{format_duration(span - back.at_s)} before the end: what it gained was freed (a collector's longer "
            "cycle), which a leak never does")
        return res
    res.verdict = "leak"
    res.slope, res.slope_low, res.slope_high = recent.slope, recent.slope_low, recent.slope_high
    res.floor_now = _floor_at_end(recent.at(x_end), b, i0, i1)
    res.evidence.insert(0, base_ev)
    res.confidence = _leak_confidence(tr, rise, min_rise)

    # Shape of the leak.
    pattern = "linear"
    accel = _exponential(x, y, a, bt)
    if accel is not None:
        pattern = "exponential"
        (r, ea, eb), line = accel
        res.exp_model = (r, ea, eb, float(fl.t[0]))
        res.evidence.append(line)
    if pattern == "linear":
        if sawtooth:
            pattern = "sawtooth"
            res.evidence.append(saw_ev)
        else:
            steps = _is_step(x, y, rise)
            if steps.ok:
                pattern = "step"
                res.floor_now = float(np.median(y[-3:]))
                res.evidence.append(_steps_text(steps.n_jumps, steps.jump))
    res.pattern = pattern
    lt = _sped_up(x, y, tr) if pattern in ("linear", "sawtooth") and not decel else None
    if (lt is not None and lt.at(span) >= _peak_before(b, i0, float(fl.t[0] + x[-lt.n])) + min_rise
            and _faster_than_before(x, y, lt)):
        # A leak whose growth sped up (one that began late in the window): its rate now, not the window's average,
        # is its growth, and the time to the limit follows it (benchmarks/late_shapes.py seed 1, 300 per family:
        # the growth shown over the true rate of late leaks read leak, median 0.71 -> 0.99, under a sawtooth 0.59
        # -> 0.69). Only where its floor has left the range memory held before the last part by the leak bar (as
        # _leak_began_late's): a minute of an arena's 18-s cycles whose last part caught one ramp, its line's end
        # 40 KiB above the old peak, read "2.2 MiB/s, limit in 4m29s" (benchmarks/gate_families.py --seed 8, a
        # healthy sawtooth_arena gate).
        res.slope, res.slope_low, res.slope_high = lt.slope, lt.slope_low, lt.slope_high
        res.floor_now = _floor_at_end(lt.at(x_end), b, i0, i1)
        res.evidence.append(_sped_up_text(lt, span - float(x[-lt.n]), shown=True))
    return res


class LevelledFill(NamedTuple):
    """What _levelled_fill found: the fill, its squared residual over a straight line's, the floor's trend from when
    the fill had levelled (`since_x`), and the rise a leak must show over the window (`bar`)."""
    fit: FillFit
    share: float
    since_x: float
    since: Trend
    bar: float


def _levelled_fill(x: np.ndarray, y: np.ndarray, min_rise: float) -> LevelledFill | None:
    """Is the floor's rise a fill that levelled off? The floor (x from 0, y) fits a fill plus a line significantly
    better than a line alone (the F-test on the effective points, at ALPHA over FILL_SHAPES), and neither the line
    fitted with the fill nor the floor after the fill's FILL_LEVELLED_TAUS time constants shows growth going on.
    None: no such fill, or a leak's growth beside it, or too few floor points after it to tell.

    The burden of proof is the fill's: the window's rise already passed the leak's test, so growth beside the fill
    needs only WEAK_ALPHA and a rate that over the window makes the rise a leak must show (`min_rise`), not that rise
    again within the shorter stretch after the fill. Asking ALPHA and the bar over that stretch, or taking the fill's
    word where too few floor points followed it, withdrew 166 visible leaks of a review's 30,000 traces (a linear
    climb to a cap, then a leak of 15-24 % of the level over 5-12 GC cycles: 68 with too few points after the fill,
    68 under a bar asked of the stretch alone, 28 at p = 0.010-0.02)."""
    n = len(y)
    span = float(x[-1]) if n else 0.0
    if n < MIN_FLOOR_POINTS or span <= 0:
        return None
    # 24 time constants, geometric: neighbours 12 % apart, finer than a handful of noisy floor points can tell.
    fit = fill_and_line_fit(x, y, span * np.geomspace(FILL_TAU_SHORTEST, FILL_TAU_LONGEST, 24))
    shrink = (1 - fit.lag1) / (1 + fit.lag1)
    dof = int(n * shrink) - 4  # four parameters: level, fill, tau, line
    if dof < 1 or fit.amplitude >= 0:
        return None
    _, _, sse_line = line_fit(x, y)
    if sse_line <= 0:
        return None
    variance = fit.sse / (n - 4)
    f = (sse_line - fit.sse) / 2 / max(variance, 1e-300) * shrink
    if f < f_quantile_2(1 - ALPHA / FILL_SHAPES, dof):
        return None
    # The line fitted with the fill: growth that goes on beside it is a leak's, whatever the fill (warm-up, then a
    # leak of 2 MiB/min over 7 GC troughs).
    slope_se = math.sqrt(max(fit.slope_scale * variance / shrink, 0.0))
    if fit.slope - student_t_quantile(1 - WEAK_ALPHA, dof) * slope_se > 0 and fit.slope * span >= min_rise:
        return None
    since_x = FILL_LEVELLED_TAUS * fit.tau
    after = x >= since_x
    if np.count_nonzero(after) < MIN_FLOOR_POINTS:
        return None
    since = mann_kendall_sen(x[after], y[after])
    if since.p_up < WEAK_ALPHA and since.slope * span >= min_rise:
        return None
    return LevelledFill(fit, fit.sse / sse_line, float(x[after][0]), since, min_rise)


def _held_since_fill(fill: LevelledFill, span: float) -> bool:
    """Has the floor held since its fill levelled, for at least as long as the fill took to level, with no sign of
    a rise of its own? No sign: its trend since is not significant even at WEAK_ALPHA, and its rate since, over the
    whole window, makes under half the rise a leak must show (the plateau test's "rose only ..., under half" bar): a
    longer watch at that rate would not make it a leak.

    The same burden as the held-long tail under GC ramps (_flat_tail's `held`): a level held longer than the rise
    took is what a fill does, and a slow leak after a fill shows a rise of its own since. WEAK_ALPHA, not ALPHA:
    a fill then a leak of 1.2 MiB/min under 107 MiB GC ramps, 10.3 MiB in the 7m37s since the fill levelled
    (p = 0.013), read "held" at ALPHA (a fill-then-leak family of 400 leaks and 400 fills, 2026-12-08). No
    exemption for a significant rise too small to matter (the plateau test's full cache evicting): a helper's review
    found a 128 MiB fill, then a true 0.5 MiB/min leak under 100 MiB GC ramps, 15 minutes, read "no-leak, 0.80" beside
    "since it levelled the floor rose 8.4 MiB in 8m52s (p < 0.001)", a leak at 30 minutes; over its families that
    exemption turned 7 leaks to no-leak and fixed no healthy trace. A fill still creeping is undecided, as is a rise
    since that is not significant but, at its rate, makes most of the bar (true leaks of 1 MiB/min after fills, p =
    0.069-0.094, 60-87 % of the bar over the window, in the same review)."""
    held_s = span - fill.since_x
    if held_s < fill.since_x:
        return False
    since = fill.since
    return since.p_up >= WEAK_ALPHA and max(since.slope, 0.0) * span < 0.5 * fill.bar


def _fill_that_held(res: SegmentResult, fill: LevelledFill, span: float, base_ev: str,
                    floor_now: float) -> SegmentResult:
    """The verdict on a fill that levelled and has held since (_held_since_fill): no leak, with the floor's measured
    growth since it levelled and at most HELD_LONG_CONFIDENCE sure (a longer watch still narrows the band)."""
    since = fill.since
    res.verdict, res.pattern = "no-leak", "plateau"
    res.confidence = HELD_LONG_CONFIDENCE
    res.slope, res.slope_low, res.slope_high = since.slope, since.slope_low, since.slope_high
    res.floor_now = floor_now
    res.watch_more_s = None
    res.held_flat = True
    res.evidence.append(base_ev)
    res.evidence.append(_levelled_fill_text(fill, span, held=True))
    return res


def _levelled_fill_text(fill: LevelledFill, span: float, *, held: bool = False) -> str:
    """The evidence line of a fill that levelled: its size and time constant, and what the floor did since."""
    since_s = span - fill.since_x
    rise = fill.since.slope * since_s
    if rise <= 0:
        after = f"since it levelled the floor held ({format_p(fill.since.p_up)})"
    elif fill.since.p_up < WEAK_ALPHA:
        after = (f"since it levelled the floor rose {format_bytes(rise)} in {format_duration(since_s)} "
                 f"({format_p(fill.since.p_up)}), a rate that over the whole window makes "
                 f"{format_bytes(fill.since.slope * span)}, under the {format_bytes(fill.bar)} a leak must show")
    else:
        after = (f"since it levelled the floor rose {format_bytes(rise)} in {format_duration(since_s)} "
                 f"({format_p(fill.since.p_up)}: not significant)")
    if held:
        after += f", for longer than the fill took to level ({format_duration(fill.since_x)})"
    return (f"the floor fits a fill of {format_bytes(-fill.fit.amplitude)} levelling off (time constant "
            f"{format_duration(fill.fit.tau)}; residual {fill.share:.0%} of a straight line's), and {after}: "
            f"{PLATEAU_READING if held else DECELERATING_READING}")

class FellBack(NamedTuple):
    """The floor's own fall back to where it began (_fell_back)."""

    at_s: float  # when the floor landed, seconds into the floor
    top: float  # the floor's highest point before the fall
    landed: float  # where it landed


def _fell_back(fl: Floor, level0: float) -> FellBack | None:
    """The floor fell back, in one fall of its own, to within its noise of where it began: what it had gained
    was freed, which a leak never does. A floor that is itself a sawtooth of a longer cycle (V8's old space growing
    between its major collections over minutes, each young-generation cycle's trough riding on it) climbs for most
    of the window and reads as a leak by its trend, though each major collection takes it back to its level
    (benchmarks/late_shapes.py v8_old_space: 72 of 100 healthy traces read leak). A fall of the floor is a fall of
    find_drops over the floor points: larger than 5 noise sigmas of their steps and than 3 % of the level, which
    noise does not make; a restart's fall is cut off before (segments.split).

    Only a floor under memory's own cycles can have cycles of its own: troughs, or minima of windows at least as long
    as memory's cycle; minima of shorter windows follow its ramps, and their falls are its collections (a leak under
    slow GC ramps, in a 60-second gate, read no-leak: benchmarks/gate_families.py --seed 8). And a cycle of the floor
    holds at least LONG_CYCLE_SHARE of memory's falls (a late leak under six slow GC ramps, whose floor fell with each
    collection, read no-leak: benchmarks/late_shapes.py late_leak_under_sawtooth #39, seed 1)."""
    x, y = fl.t - fl.t[0], fl.m
    if len(y) < MIN_FLOOR_POINTS:
        return None
    cycles = count_falls(fl.drops)
    if not fl.from_troughs and len(y) > cycles:  # windows shorter than memory's cycle
        return None
    drops, _, _ = find_drops(y, level0)
    if not len(drops) or cycles < LONG_CYCLE_SHARE * (len(drops) + 1):
        return None
    k = int(drops[-1])
    # Where it landed: the lowest of the few floor points after the fall (a window that holds the fall also holds
    # the start of the next climb); where it began: the 10th percentile of the floor's first quarter, its level under
    # whatever climbs there (its median rides up a first long cycle, and a leak whose landings had risen 53 MiB read
    # "fell back": benchmarks/classifier-style V8 heaps with a 0.6 MiB/min leak, an adversarial run of this rule).
    landed = float(y[k + 1: k + 4].min())
    began = float(np.percentile(y[x <= 0.25 * float(x[-1])], 10))
    # Back within the floor's own noise (MIN_RISE_SIGMAS of its points, from their steps), not within the leak bar:
    # the bar's noise term grows with the long cycle's own swing around the trend line, and a 0.9 MiB/min leak whose
    # landings rose 650, 665, 680, 695, 710 MiB under 300 MiB cycles read "fell back" (an adversarial run).
    near = began + MIN_RISE_SIGMAS * diff_sigma(y)
    top = int(np.argmax(y[: k + 1]))
    # Back to where it began, from a top it climbed to from there over LONG_CYCLE_SHARE floor points or more, the one
    # before the top already past half the fall: one or two floor points left high by a gap in the samples (an
    # interval whose trough was not sampled) are no cycle of the floor (benchmarks/classifier sawtooth_leak #50, seed
    # 7, and #9 and #42, seed 2: leaks read no-leak).
    # And since the landing the floor has not climbed past the top the fall freed (by more than its noise): a climb
    # beyond it is no evidence of the same cycle. A review of the first version found leaks read "fell back" where a
    # lifetime after an unrecorded restart, or a V8 old-space cycle over a leak, ended above the last top (of its
    # 1,000 leaks under V8 old space and unrecorded restarts, 250 per family, were 42; with this, 25).
    low = np.flatnonzero(y[:top] <= near)
    if (landed > near or not len(low) or top - int(low[-1]) < LONG_CYCLE_SHARE
            or float(y[top - 1]) < landed + 0.5 * (float(y[top]) - landed)
            or float(y[k + 1:].max()) > float(y[top]) + (near - began)):
        return None
    return FellBack(float(x[k + 1]), float(y[top]), landed)


def _sped_up(x: np.ndarray, y: np.ndarray, tr: Trend) -> Trend | None:
    """The trend of the floor's last part (LATE_SHARE) where it rises plainly (ALPHA) and its band lies wholly above
    the whole window's (tr): the growth sped up, and the last part's rate is the rate now. None otherwise."""
    late = x >= (1 - LATE_SHARE) * float(x[-1])
    if np.count_nonzero(late) < MIN_FLOOR_POINTS:
        return None
    lt = mann_kendall_sen(x[late], y[late])
    return lt if lt.p_up < ALPHA and lt.slope_low > tr.slope_high else None


def _sped_up_text(lt: Trend, late_s: float, *, shown: bool) -> str:
    """The evidence line of a last part that sped up (_sped_up); `shown`: its rate is the growth shown."""
    text = (f"the floor rose {format_rate(lt.slope)} over the last {format_duration(late_s)} ({format_p(lt.p_up)}), "
            "its band above the whole window's: the growth sped up")
    return text + "; its rate now is the growth shown" if shown else text


def _faster_than_before(x: np.ndarray, y: np.ndarray, lt: Trend) -> bool:
    """Is the last part's rate (lt, the last lt.n points) above the rate of the points before it by more than
    RATE_NOW_Z standard errors of the difference (each from its GROWTH_INTERVAL band), as engine._leak_rate_now asks of
    the floor test's last part? Two bands that merely do not overlap are too weak a test under autocorrelated noise:
    a review's constant leaks under AR(1) noise (phi 0.98 per 10 s) read 2.3-6.3 times their rate (2026-12-07)."""
    early = mann_kendall_sen(x[: -lt.n], y[: -lt.n])
    se = math.hypot(lt.slope_high - lt.slope_low, early.slope_high - early.slope_low) / (2 * GROWTH_INTERVAL_Z)
    return lt.slope - early.slope > RATE_NOW_Z * se


def _leak_confidence(tr: Trend, rise: float, min_rise: float) -> float:
    """A leak's confidence: 0.6 at the trend test's one-sided 99 % (z = 2.33) and a rise at the leak bar, more the
    stronger the trend and the larger the rise against the bar (each doubling of it +0.1), at most 0.99."""
    return float(min(0.99, 0.6 + 0.08 * max(tr.z - 2.33, 0) + 0.1 * math.log2(max(rise / min_rise, 1))))


def _peak_before(b: Buckets, i0: int, t: float) -> float:
    """The highest memory of the lifetime starting at bucket i0 before time t (infinite if none)."""
    before = b.t[i0:] < t
    return float(b.hi[i0:][before].max()) if before.any() else math.inf


def _leak_began_late(xl: np.ndarray, yl: np.ndarray, lt: Trend, min_rise: float,
                     old_peak: float) -> tuple[str, Trend] | None:
    """Why a floor whose whole-window trend is weak is a leak since its last part (xl, yl: LATE_SHARE), and its
    trend since the floor left the range memory held before (old_peak, _peak_before the part), or None.

    An hour flat for 40 minutes, then 2 MiB/min: the line over the whole window is a poor fit whose residuals the
    Hamed-Rao correction reads as autocorrelation (p = 0.011-0.026 over five noise draws), while the last part alone
    rises plainly (p < 0.001). The last part is one look fixed in advance, at LATE_LOOK_ALPHA. It must then be what a
    leak is over a whole window, judged from where its floor left the range memory held before:
    - a floor now above every sample before the part by the leak bar. A sawtooth of long cycles fails this: a window
      that ends on one of its ramps rises plainly in its last part (benchmarks/classifier sawtooth_v8 #29 seed 1,
      sawtooth_arena #37 seed 7: a ramp of 3.5 minutes after a drop) without passing the peaks reached before it;
    - still rising since it left that range at the rate it left it, as a leak keeps its rate: the later half of the
      points since the floor passed the old peak rises on its own (at ALPHA), at half the earlier half's rate or
      more (the main path's bar for deceleration), and not slower than the earlier half beyond both their bands
      and by more than a leak's own rate varies (STEADY_RATE_KEPT: on a near noise-free line the bands are so narrow
      that 3.605 against 3.641 MiB/min were disjoint, benchmarks/late_shapes.py late_leak #120, seed 1).
      Judged over the whole last part, the flat before the rise hid a cache fill's bend (a fill of time constant
      10 minutes seen for 20 read "leak"); asked only not to be slower by half beyond both bands, fills that had
      levelled for the last 30 minutes passed (a review, 2026-12-07: 53 levelled fills and steps of 4,800 healthy
      traces called leak; 8 with the rise on its own and the half, 71 of its 75 late leaks kept); with the bands
      too, 71 fewer healthy fills still bending read leak (exponential fills 71 -> 18), every late leak kept.
    """
    late_s = float(xl[-1] - xl[0])
    if not (lt.p_up < LATE_LOOK_ALPHA and lt.slope * late_s >= min_rise):
        return None
    now = lt.at(float(xl[-1]))
    out = np.flatnonzero(yl > old_peak)
    if now < old_peak + min_rise or not len(out):
        return None
    xr, yr = xl[out[0]:], yl[out[0]:]
    mid = 0.5 * (float(xr[0]) + float(xr[-1]))
    first, second = (mann_kendall_sen(xr[xr <= mid], yr[xr <= mid]), mann_kendall_sen(xr[xr >= mid], yr[xr >= mid]))
    if (min(first.n, second.n) < LEVELLING_MIN_POINTS or second.p_up >= ALPHA
            or second.slope < 0.5 * first.slope
            or (second.slope_high < first.slope_low and second.slope < STEADY_RATE_KEPT * first.slope)):
        return None  # too few points above the old range to tell a leak's line from a fill's bend, or a bend
    since = mann_kendall_sen(xr, yr)
    return (f"the floor now ({format_bytes(now)}) is {format_bytes(now - old_peak)} above the highest memory before "
            f"the last {format_duration(late_s)} ({format_bytes(old_peak)}), past the leak bar of "
            f"{format_bytes(min_rise)}, and still rises since it left that range ({format_rate(second.slope)} over "
            f"the later half, {format_p(second.p_up)}, against {format_rate(first.slope)} before): a leak that began "
            f"late; its rate since it left that range, {format_rate(since.slope)}, is the growth shown"), since


def _coarse_floor(t: np.ndarray, lo: np.ndarray, level: float) -> Floor:
    """The floor of a sawtooth sampled slower than its period: window minima of 24 samples or more each (at least
    4 * MIN_FLOOR_POINTS windows asked for), steadier than the fine windows' scatter."""
    return compute_floor(t, lo, level, max_points=max(MIN_FLOOR_POINTS * 4, len(t) // 24))


def _floor_at_end(line_value: float, b: Buckets, i0: int, i1: int) -> float:
    """The floor line's value at the lifetime's last sample, kept within what a floor can be there: no
    higher than the lowest memory of the last bucket (a floor lies under every sample) and no lower
    than the lowest memory of the lifetime. Where memory has no sawtooth the floor is the memory itself
    and a line fitted through it lies above the last samples about half the time: a leak climbing
    steadily to a restart at the end of the recording got a floor 15 KB above its peak (rw_py_lru_unbounded
    recorded by mprof, whose exit it read as a restart; any JSONL trace with a restart event there too)."""
    return float(min(max(float(line_value), float(b.lo[i0:i1].min())), float(b.lo[i1 - 1])))


def _fill_under_cycles(rise: float, took_s: float, fl: Floor, floor_cycle: tuple[float, float] | None,
                       swing: float) -> bool:
    """Is a sawtooth's floor rise before its plateau the shape a person sees, a fill, rather than a detail of the
    sawtooth? Only when it is larger than the cycles' swing (a Node server's heap sizing, 1.4 MiB under 32.7 MiB
    GC ramps, is lost inside them) and took at least two cycles (a process starting within its first batch cycle,
    12 -> 170 MiB in 19 s under 3-minute flushes, tests/data/shapes/node_batch_flush_ok_6min.csv, is its start-up)."""
    period, size = floor_cycle if floor_cycle is not None else (fl.cycle_s, swing)
    return rise >= size and (period is None or took_s >= 2 * period)


class FlatTail(NamedTuple):
    """What _flat_tail found: where the tail starts, its trend, how far the floor rose before it (from the head's first
    points to the tail's level), the bar its rise was held against, and whether it was shown flat (False: a
    sawtooth's tail that slowed as a plateau's does but whose band still holds a leak's rise)."""
    start: float
    trend: Trend
    head_rise: float
    bar: float
    shown_flat: bool
    held_long: bool = False  # shown level only by holding longer than the rise took (_flat_tail's `held`)


def _flat_tail(x: np.ndarray, y: np.ndarray, min_rise: float, sigma: float, level: float,
               limit: int | None, *, own_bar: bool) -> FlatTail | None:
    """The floor rose and then stopped: a tail whose slope is clearly below the slope before it; under a GC sawtooth
    (own_bar), also a tail whose band rules out what a leak must show over it. A sawtooth's tail that slowed but
    could not be shown flat comes back with shown_flat False (undecided, not a leak: see below), unless it has held
    for longer than the rise before it took with no sign of a rise of its own (held_long: level, less sure)."""
    span = float(x[-1])
    slowed: FlatTail | None = None
    held: FlatTail | None = None  # a long tail shown level though not flat to the bar (below)
    rising = False  # a tail tested below still grew significantly: no slowdown to claim
    for q in (0.6, 0.5, 0.4, 0.3):
        cut = span * (1 - q)
        tail = x >= cut
        head = x <= cut
        if tail.sum() < MIN_FLOOR_POINTS or head.sum() < 3:
            continue
        tt = mann_kendall_sen(x[tail], y[tail])
        tail_level = float(np.median(y[tail]))
        head_rise = tail_level - float(np.median(y[head][:3]))
        if head_rise < min_rise:
            continue
        if np.count_nonzero(y[head] < tail_level - 0.5 * min_rise) < 3:
            continue  # one or two low points at the start: the start-up, not a warm-up
        if (head_rise < 3 * min_rise and mann_kendall_sen(x[head], y[head]).p_up >= WEAK_ALPHA
                and not (own_bar and head_rise >= 3 * sigma and rank_sum_p_below(y[head][:3], y[tail]) < WEAK_ALPHA)):
            # No real rise before the tail: not a warm-up. A rise is a trend over the head or, under a GC sawtooth,
            # its first three troughs (where head_rise is measured from) below the tail's: a fill done within the
            # first few cycles is a step at the head's start, which the trend over the head's later, level troughs
            # dilutes (a fill in 2 of 11 minutes under 290 MiB GC ramps, then level: head p_up 0.06, the first three
            # troughs below all seven of the tail's, p = 0.008; benchmarks/classifier sawtooth_fill #23, seed 7, read
            # leak). Troughs only, one per cycle: window minima of a level floor are autocorrelated, and three
            # neighbouring low ones are no rise (the rank-sum test assumes independent points; on the stable
            # family's minima it read 3 of 300 level floors as fills). And a rise of 3 noise sigmas of one trough:
            # by rank alone, any leak's first troughs lie below its tail's (a review: a 0.74 %/h leak under 35 MiB of
            # trough noise, its first three troughs 50-95 MiB under the tail's median, read "rose 76 MiB in the first
            # 2m12s, then slowed": benchmarks/classifier sawtooth_leak #28, seed 23).
            continue
        rising = rising or tt.p_up < ALPHA  # (a tail with a rise before it: its own growth, not the rise's)
        head_slope = head_rise / max(cut, 1e-9)
        tail_growth = max(tt.slope, 0.0) * q * span
        flat_enough = tt.slope_high < 0.25 * head_slope and tail_growth < max(0.25 * head_rise, 2 * sigma)
        bar = min_rise
        if own_bar:
            # Under a GC sawtooth the floor is one trough per cycle, placed by where the samples fell on the ramps,
            # and the whole window's bar counts in its noise the scatter around one line through a fill and then a
            # leak: a review's 900 MiB fill in 9 minutes, then 2 MiB/min under 450 MiB ramps, read "rose only
            # 15.9 MiB, under half the 43.2 MiB a leak must show". A claim that the floor stopped needs the tail's
            # band to rule out the rise that matters over the tail (_relevant_rise, without _leak_bar's noise part:
            # noise makes an absence harder to show, not easier); otherwise the rise is judged as before.
            bar = min(min_rise, _relevant_rise(level, limit, q * span))
            if max(tt.slope_high, 0.0) * q * span >= bar:
                # Not shown flat, but the tail's band is under a quarter of the rise's pace and its own trend is not
                # significant: the evidence of a leak is all in the head. A leak verdict must rest on growth that
                # goes on; this is a fill if the floor stays, else a slower leak (benchmarks/classifier's
                # sawtooth_fill: an exponential fill under 14 s GC ramps, flat for the last 5 of 7 hours, read
                # "leak, 0.81" because 16 troughs cannot bound the tail's slope under 2 % of the level). Not when any
                # other tail with a rise before it still grows significantly (`rising`): a review's fill, then
                # 2 MiB/min under 560 MiB ramps, had p < 0.001 over its last 60 % and 50 %, p = 0.026 over its
                # last 30 %.
                if (held is None and flat_enough and tt.p_up >= WEAK_ALPHA and q * span >= cut
                        and tt.slope * q * span > -bar):
                    # The floor has held for longer than its rise took, with no sign of a rise of its own (not even
                    # at WEAK_ALPHA): the tail read alone, as a window of its own, is a level floor ("no significant
                    # growth"), and the rise before it is what a fill's is. Its band cannot rule out the rise that
                    # matters only because the troughs under the collector's ramps are noisy: a longer watch narrows
                    # it, but so it would on any level sawtooth, which reads no-leak on the same evidence. The
                    # engine's floor test still looks at the whole window (_reconcile). benchmarks/classifier
                    # sawtooth_fill #17, seed 20240611: 164 MiB in the first 30 minutes, then 3h10m level under a
                    # 534 MiB swing (Sen slope -59 KiB/h, p = 0.505) read "inconclusive, watch about 3h10m more".
                    # Level: its own line neither rises (p) nor falls by the rise that matters. A tail whose line falls
                    # that far is noise too large to show anything: a helper's review of short, aliased windows of
                    # leaks after fills found 48 leaks read no-leak against 248 fills, 30 against 215 with this.
                    held = FlatTail(cut, tt, head_rise, bar, True, held_long=True)
                if slowed is None and flat_enough and tt.p_up >= ALPHA:
                    slowed = FlatTail(cut, tt, head_rise, bar, False)
                continue
        # A tail trend that is significant but irrelevant (a full LRU cache evicting: 27 KiB/min after a
        # 13 MiB/min fill, rw_py_lru_long_fill) is still a plateau: its rise is below the leak bar.
        irrelevant = tail_growth < 0.5 * bar and tt.slope < IRRELEVANT_TAIL_SHARE * head_slope
        if flat_enough and (tt.p_up >= ALPHA or irrelevant):
            return FlatTail(cut, tt, head_rise, bar, True)
    return None if rising else (held or slowed)


def _watch_more(x: np.ndarray, y: np.ndarray, span: float) -> float:
    """Still decelerating: when would a saturating curve have flattened (plus a flat stretch)?"""
    rates = np.linspace(0.5, 10.0, 20) / max(span, 1e-9)
    r, _, eb, _ = exp_fit(x, y, -rates)
    if eb < 0 and r < 0:
        tau = -1.0 / r
        # Flat when the remaining rise (|b| e^{-t/tau}) is below 2% of it, then 40% more to confirm.
        t_flat = tau * math.log(50.0)
        return float(max(t_flat * 1.4 - span, 0.5 * span))
    return float(span)


@dataclass
class Classified:
    """The classifier's answer on a cleaned series: the combined result of its lifetimes."""

    result: SegmentResult
    restarts: int
    evidence: list[str]


def classify(cl: Clean, *, limit: int | None, restart_times: np.ndarray | None) -> Classified:
    """Cut the series at its restarts, classify each lifetime, combine (the engine calls this)."""
    evidence: list[str] = []
    b = decimate(cl.t, cl.m)
    last = float(cl.m[-1])
    if float(b.hi.max()) == float(b.lo.min()):
        ev = f"memory constant at {format_bytes(last)} for {format_duration(float(cl.t[-1] - cl.t[0]))}"
        res = SegmentResult("no-leak", "stable", confidence=0.8 if len(cl.t) >= 60 else 0.6, evidence=[ev],
                            floor_start=last, floor_now=last)
        return Classified(res, 0, [ev])
    seg = split(b, limit=limit, restart_times=restart_times)
    results: list[SegmentResult] = []
    for k, (i0, i1) in enumerate(seg.bounds):
        if i1 - i0 >= MIN_SAMPLES or (k == len(seg.bounds) - 1 and not results):
            results.append(_analyse_segment(b, i0, i1, first=k == 0, limit=limit))
        else:
            results.append(SegmentResult("inconclusive", "stable", start_t=float(b.t[i0]), end_t=float(b.t[i1 - 1])))
    restarts = len(seg.bounds) - 1
    res = _combine(results, seg.reasons, restarts, evidence, limit=limit)
    return Classified(res, restarts, evidence)


def _combine(results: list[SegmentResult], reasons: list[str], restarts: int, evidence: list[str], *,
             limit: int | None = None) -> SegmentResult:
    """One result for the whole trace from the results of its process lifetimes."""
    usable = [r for r in results if r.evidence]
    if not usable:
        r = results[-1]
        r.evidence = ["no segment between restarts is long enough to judge"]
        evidence.extend(r.evidence)
        return r
    current = usable[-1]
    if restarts == 0:
        evidence.extend(current.evidence)
        return current
    completed = [r for r in usable[:-1] if r is not results[-1]]
    climbs = [r for r in usable if r.verdict == "leak"]
    done_climbs = [r for r in completed if r.verdict == "leak"]
    # One climb, ended by a restart recorded in the trace below a known limit's NEAR_LIMIT (the record says that the
    # process restarted, not why: a deploy, a crash, an OOM kill), is refuted by the lifetime since when that was
    # watched at least as long as the climb took and did not climb: a loop predicts that it climbs again. A healthy
    # process's AR(1) noise rose 2.6 MiB in its first 4 minutes at 32 % of a 512 MiB limit, then a deploy restarted it
    # and it stayed level for 5 minutes: "restart loop: 1 of 1 completed lifetimes climbed ... killed by its leak"
    # (benchmarks/classifier stable #22, seed 7). A lifetime since that is shorter leaves the climb standing (a review:
    # 347 MiB in 6 hours, then 5 minutes since the restart, read "no-leak" when any single recorded climb was
    # dismissed). Restarts inferred from the series are not refuted so: the lifetime since may hold falls the
    # inference did not take for restarts, and its own verdict is then no evidence.
    if len(done_climbs) == 1 and current is results[-1] and current.verdict != "leak":
        climb = done_climbs[0]
        k = next(k for k, r in enumerate(results) if r is climb)
        recorded = reasons[k] == REASON_RECORDED
        at_limit = limit is not None and climb.peak >= NEAR_LIMIT * limit
        if recorded and not at_limit and current.end_t - current.start_t >= climb.end_t - climb.start_t:
            done_climbs = []
    loop = bool(done_climbs) and len(done_climbs) >= max(1, len(completed) // 2)
    evidence.append(f"{restarts} restart{'s' if restarts > 1 else ''} ({'; '.join(sorted(set(reasons)))})")
    if not loop:
        # The lifetime since the last restart can be too short to judge (MIN_SAMPLES): then the one before it is the
        # one judged, and saying "since" put a climb before a deploy on the process running now (a review).
        evidence.append("judged on the process lifetime since the last restart" if current is results[-1] else
                        "judged on the process lifetime before the last restart: the one since is too short to judge")
        evidence.extend(current.evidence)
        return current
    slopes = np.array([r.slope for r in climbs])
    out = SegmentResult("leak", "linear")
    patterns = [r.pattern for r in climbs]
    out.pattern = (
        "step"
        if patterns.count("step") > len(patterns) / 2
        else ("exponential" if patterns.count("exponential") > len(patterns) / 2 else "linear")
    )
    out.slope = float(np.median(slopes))
    out.slope_low = float(np.median([r.slope_low for r in climbs]))
    out.slope_high = float(np.median([r.slope_high for r in climbs]))
    durations = [r.end_t - r.start_t for r in done_climbs]
    peaks = [r.peak for r in done_climbs]
    out.evidence.append(
        f"restart loop: {len(done_climbs)} of {len(completed)} completed lifetimes climbed "
        f"(typically to {format_bytes(float(np.median(peaks)))} in {format_duration(float(np.median(durations)))}) "
        f"before the restart, at {format_rate(out.slope)}: the process is being killed by its leak"
    )
    out.evidence.extend(done_climbs[-1].evidence[:1])
    out.confidence = float(min(0.99, 0.7 + 0.1 * len(done_climbs)))
    out.floor_start = usable[0].floor_start
    out.excursion = float(np.median([r.excursion for r in climbs]))
    if current is results[-1]:
        out.floor_now = current.floor_now
    # else the process has only just restarted: the forecast starts from its last sample.
    out.start_t, out.end_t = results[-1].start_t, results[-1].end_t
    out.peak = max(r.peak for r in results)
    evidence.extend(out.evidence)
    return out
