"""Every threshold of the one diagnosis, each with why that value and where it came from.

The classifier's own rule constants (classify.py) and the floor test's noise model (gate_trend.py)
import theirs from here too, so a change of policy is one edit in one file.
"""

from __future__ import annotations

import math
from statistics import NormalDist

# --- the engine (engine.py) ---------------------------------------------------------------
# The floor test measures growth from one point per GC/batch cycle with a noise model; it was tuned
# on 60 s gates at 20-200 ms (benchmarks/gate_families.py: 99.25 % of >= 5 MiB/min leaks caught,
# 0.39 % false failures over ten seeds). Up to 10 minutes its error model still holds (a 10-minute
# gate at 20 ms is 30,000 samples); past that the classifier's Theil-Sen on troughs takes over.
FLOOR_TEST_MAX_S = 600.0
FLOOR_TEST_MAX_SAMPLES = 200_000  # floor_trend is O(n) but keeps per-cycle arrays: bounded for speed
# Up to this long a window is the floor test's to judge: a classifier leak it finds flat (no rise above
# RISING_RATE while it would catch 5 MiB/min) or levelling off is overruled. From memdoctor/analysis/gate.py, where
# the gate's seeds 101-104 chose it (docs/benchmarks.md, "The gate's floor test").
SHORT_WINDOW_S = 120.0
# Evidence over rules: past the gate's short window, a floor rising steadily is a leak whatever the
# classifier's short-trace rules (heap sizing under a large swing, too few cycles) say. Steady: the
# floor test's slope at least STEADY_Z standard errors ("many times its noise"; 5 sigma is the usual
# bar for "no doubt"), at least the classifier's relevance rate (1 MiB/min is 1.4 GiB a day:
# classify.MIN_RISE_RATE), over at least two gate windows (V8 sizes its heap within ~75 s: the real
# Node recordings in tests/data/gate), and the last 40 % of the window still rising at half the rate or more
# (a fill that levels off does not). Chosen on rw_py_sawtooth_slow_leak (1.9 MiB/min under a 40 MB
# sawtooth, 6 min: the classifier's heap-sizing rule called it no-leak).
STEADY_Z = 5.0
STEADY_MIN_RATE = 1024**2 / 60
# A slower steady rise also matters when it is at least STEADY_LEVEL_RATE of the floor's level (per second):
# 10 % an hour, the growth at which Coroot alarms (../shared/FIELD_NOTES.md), and a floor doubling in ten hours.
# Below STEADY_MIN_RATE both measurements of the floor (the floor test's line and the classifier's Theil-Sen over
# window minima) must see it: on a batch runner whose first jobs raised the high-water mark, the floor test's
# line measured 157 KiB/min at 5 standard errors where the window minima rose 18 KiB in 5 minutes (the real
# recording rw_py_batch_drop, healthy). A 165 MB process keeping 417 KiB/min (tests/data/shapes
# py_slow_leak_7min, 15 %/h, p < 0.001 by both) read "significant but too small to matter" for 7 minutes.
STEADY_LEVEL_RATE = 0.10 / 3600.0
# Steady also means not settling: the last part of the window (the floor test's late part) not significantly
# (LEVELLING_Z) slower than this share of the part before it. A fill settling as 1 - exp(-t/tau) falls below 0.9 of
# its earlier rate once watched for ~0.2 tau (the two parts' mean rates are e^{-0.3 W/tau} and e^{-0.8 W/tau});
# a leak's rate moves with its load by a few percent (real leaks recorded here, where their line is known within
# 2 %: rw_py_sawtooth_slow_leak 0.95 of its earlier rate, buf_leak 0.97, aio_leak 0.99), and a significance test
# alone called those settling. Found by an adversarial review of the 10 %/h rate: healthy processes of 100-600 MB
# whose mmap'd pages, high-water buffers or memo filled over minutes read "leak" at 0.5-0.8 MiB/min with their
# later rate 0.57-0.86 of the earlier (only the half-of-the-window's-rate bar of STEADY_LATE_SHARE applied).
STEADY_RATE_KEPT = 0.9
STEADY_MIN_S = 120.0
STEADY_LATE_SHARE = 0.5
# The growth interval shown beside every growth: 90 %, the level of the classifier's Theil-Sen band
# (trend.mann_kendall_sen alpha 0.10, Gilbert 1987) so both estimators print the same kind of interval.
GROWTH_INTERVAL = 0.90
GROWTH_INTERVAL_Z = NormalDist().inv_cdf(1 - (1 - GROWTH_INTERVAL) / 2)  # its half-width in standard errors
# An undecided trace still warns of the limit when the fast end of its growth interval reaches the limit
# within a day: the horizon an operator can act on ("an inconclusive still warns of an OOM in minutes").
TTL_WARN_S = 24 * 3600.0

# --- the online verdict (online.py) --------------------------------------------------------
# A decided verdict (leak / no-leak) is shown only after it held for this many analyses in a row ...
ONLINE_PERSIST = 3
# ... and over at least this share of the time watched (a warm-up fill that levels off at time W looks
# like a leak until W: holding for a third of the watch means it kept rising for half as long again) ...
ONLINE_HOLD_SHARE = 1 / 3
# ... and at least this long (a 2 s analysis cadence: 15 analyses).
ONLINE_MIN_HOLD_S = 30.0
# A leak is not shown while the floor is levelling off (a fill or warm-up that slows down): the floor's
# Theil-Sen slope over the later half of the data so far lies below the earlier half's, beyond both
# halves' GROWTH_INTERVAL bands (their bands do not overlap): slower, and not by noise. No share of the
# rate is asked for: any bar below "significantly slower" only lets more fills through (a half-rate bar
# like STEADY_LATE_SHARE let through 13 of 20 cache fills against 11). Each half needs
# LEVELLING_MIN_POINTS floor points for a band (Sen's rank band needs ~4 points to say anything).
# Measured (benchmarks/classifier, seed 20240611, 20 traces per family, held verdict on 2-min prefixes):
# healthy traces that ever showed leak, cache_fill 16 -> 11 of 20, warmup_flat 12 -> 6; leaks shown live
# linear_leak 19 -> 17 (two with a warm-up before the leak; analyze of the whole trace still says leak);
# median delay at 5 %/h 18 -> 26 min. The fills it cannot hold back climb linearly up to a cap: until the
# cap, memory alone cannot tell them from a leak.
LEVELLING_MIN_POINTS = 4
# The confidence a live leak (and its --alert) prints: of the first live leaks of each kind (online.alert_kind:
# restarts, else the pattern) in the labelled benchmark, the share whose trace is a leak, at the lower end
# of its 90 % Wilson interval ("at least this many in 100"), rounded down. Measured 2026-12-06 by
# `python -m benchmarks.classifier --calibrate` (seeds 7, 99, 123 and 456, 40 traces per family, 1,920 traces,
# 881 first live leaks; the benchmark's own seed 20240611 and the real-world recordings are left out to check
# it, "Live leak confidence"): linear 374 right of 499 (the wrong ones: caches and warm-ups climbing linearly to
# a cap), step 86/95, sawtooth 120/223, exponential 17/17, restarts 46/47. Sawtooth was 121/121 (0.97) until the
# benchmark had a healthy family with a sawtooth: a cache or heap filling under its collector's ramps
# (sawtooth_fill, 103 of the 223), whose troughs climb like a leak's until the fill ends (rw_node_lru_long_fill
# showed a live leak at 0.97). No feature of the data so far separated the wrong linear ones (z of the rise,
# floor points, growth per hour, how long the leak was held: holding it for 80 % of the watch instead of a third
# raised the share only 0.83 -> 0.89 and lost 29 of 87 leaks), so the confidence is per kind.
ALERT_RIGHT_SHARE = {"linear": 0.71, "step": 0.84, "sawtooth": 0.48, "exponential": 0.86, "restarts": 0.91}
# The resolution of a memory value: one page (RSS is counted in whole 4 KiB pages on Linux x86-64 and arm64).
PAGE_BYTES = 4096
# No floor point is known better than that resolution: the variance of a uniform error over one page. The
# floor test's weights had a floor of 1 byte^2, and two points of a zero-noise band (whole pages, no climb)
# carried the whole line: a healthy Node server's 2-minute gate read "7.7 MiB/min +/- 0.0", leak at 0.99.
PAGE_VARIANCE = PAGE_BYTES**2 / 12

# --- the classifier (classify.py): chosen on benchmarks/classifier (generated families, seed 20240611)
# and the development traces of tests/data/dev_traces (docs/benchmarks.md, "Growth classifier") ---------
MIN_SAMPLES = 20  # fewer samples than this: no trend test at all (Mann-Kendall's normal approximation needs ~10 points)
MIN_FLOOR_POINTS = 6  # floor points for the classifier's trend test; fewer: the floor test decides
# ... or, when every trough is above the one before, this many of them (classify._every_trough_higher): the least
# number n whose one ordering in n! comes by chance less often than ALPHA (1/120 < 0.01; 1/24 is not).
FEW_TROUGHS_RISING = 5
# ... and their rate over their second half at least this share of their first half's: a fill levelling off slows
# first. The half is the classifier's own bar for a floor that decelerates (_analyse_segment's `decel`).
FEW_TROUGHS_LAST_RISE = 0.5
ALPHA = 0.01  # one-sided significance of the floor trend for a leak
# A floor that falls back to where it began in falls of its own is a collector's longer cycle (classify._fell_back):
# each of its cycles holds at least this many of memory's own drops. Three: a cycle of cycles needs more than the one
# or two drops a window-minima floor shows of each GC ramp it follows (a late leak under six slow ramps: its floor
# fell with each of them, benchmarks/late_shapes.py late_leak_under_sawtooth #39, seed 1).
LONG_CYCLE_SHARE = 3
WEAK_ALPHA = 0.05  # below this (but above ALPHA) with a large rise: inconclusive
# Under a weak whole-window trend, the last LATE_SHARE of the floor is looked at a second time (classify.
# _leak_began_late: a leak that began late): half ALPHA, Bonferroni's split for two looks at one floor. The look is
# fixed in advance (no search over where a leak began), so no larger correction is owed.
LATE_LOOK_ALPHA = ALPHA / 2
MIN_RISE_FRACTION = 0.02  # the floor must rise by >= 2% of its level ...
MIN_RISE_SIGMAS = 2.0  # ... and by >= 2 noise sigmas of the floor ...
MIN_RISE_BYTES = 128 * 1024  # ... and by at least this much
# The 2% share is a share of the *level*, independent of how long the floor was watched: over a
# 60 s gate it would ask a 500 MiB process for a 10 MiB/min leak before calling anything. A leak
# is a rate, so the relevance bar is also met by a rise of this rate over the span watched (1 MiB/min
# is 1.4 GiB a day). It is smaller than the 2% share only in traces shorter than ~20 min at
# 500 MiB, and the significance test (p < ALPHA) and the noise term still guard the short ones.
MIN_RISE_RATE = 1024 * 1024 / 60.0
# With a known limit, a slower rise also matters when it would take the floor to the limit within TTL_WARN_S
# (classify._relevant_rate): the horizon at which an undecided trace already warns of its limit.
STARTUP_FRACTION = 0.01  # the first 1% of a segment is start-up transient
# A restart inferred from a fall (segments.split): memory below this share of the working floor (the 10th
# percentile of the bucket minima) is a process still loading its runtime and first data, a fresh process; a
# garbage collection does not fall that far below the floor it keeps coming back to.
BIRTH_LEVEL = 0.6
SAWTOOTH_AMPLITUDE = 0.15  # a GC sawtooth swings >= 15% of the floor level
# A floor that itself rises and falls (classify._floor_period) moves between its bands by this many noise sigmas of
# one floor point: the 4 sigmas a step must clear to be seen as one (classify._is_step), for the same reason.
FLOOR_CYCLE_SIGMAS = 4.0
# The fewest floor points the plateau test can use: its longest tail (60 % of the span, classify._flat_tail) must hold
# MIN_FLOOR_POINTS of them, 6 / 0.6.
PLATEAU_TEST_POINTS = 10
RESTART_STARTUP_S = 60.0  # start-up transient after a restart
MAX_STEPS = 50  # more jumps than this in the floor is a continuous climb
# A staircase's jumps carry the floor's rise: at least this share of the trend's rise, and at most its inverse
# (jumps adding up to many times the rise are a start-up or a level the trend discounts: a Node server's start-up
# jumps, 82 MiB, read "5 steps" of a floor rising 11 MiB in a line, tests/data/shapes/node_batch_flush_*).
# The lower bound is the classifier's original; the upper one mirrors it (benchmarks/classifier --quick: linear
# traces read as step 3 -> 1 of 62, the step family unchanged).
STEP_RISE_SHARE = 0.7
# A floor that rose in sharp steps and then held level has stopped stepping only after a quiet of this many times the
# steps' mean spacing: were the steps jobs arriving at random (a Poisson process) at a known spacing, a quiet this long
# would come by chance e^-3 ~ 5 % of the time (WEAK_ALPHA's level). Shorter, the level after the steps is the wait for
# the next one: not yet a fill that stopped (classify._steps_not_yet_stopped). The spacing is estimated from the steps
# themselves, so with few steps a job runner is called stopped more often: (1 + 3/(k-1))^-(k-1) of the time with k
# steps, 25 % with 2, 16 % with 3, 12.5 % with 4 (a review, 2026-12-06). A bar giving 5 % at every k (19 spacings
# after 2 steps) would leave a service that loaded two caches and then held flat for hours undecided; the 2-step
# staircases it lets through read no-leak (plateau) as before, never leak.
STEPS_QUIET_SPACINGS = 3.0
SHORT_GC_S = 600.0  # in a sawtooth trace shorter than this ...
GC_DRIFT_FRACTION = 0.25  # ... troughs rising by less than this part of the swing are heap sizing
TAIL_FRACTION = 0.25  # the end: the last quarter of the floor
# A leak verdict must survive a fill that levels off (classify._levelled_fill): the floor is fitted as a fill (an
# exponential approach) plus a line, and the fill is one that has levelled within the window: its time constant
# from FILL_TAU_SHORTEST of the window (faster is the process's start-up, a point or two) to FILL_TAU_LONGEST, a
# fill 95 % done (three time constants, FILL_LEVELLED_TAUS) before the window's last quarter (TAIL_FRACTION), the
# part a plateau must hold flat. Slower "fills" are lines over the window and take a leak's rise for theirs.
FILL_TAU_SHORTEST = 1 / 50
FILL_LEVELLED_TAUS = 3.0
FILL_TAU_LONGEST = (1 - TAIL_FRACTION) / FILL_LEVELLED_TAUS
# The search over tau tries about ln(LONGEST / SHORTEST) = 2.5 shapes, telling apart time constants a factor e apart:
# the fill's F-test is at ALPHA over that count, rounded up (Bonferroni), so a search is no free look.
FILL_SHAPES = math.ceil(math.log(FILL_TAU_LONGEST / FILL_TAU_SHORTEST))
# The lag-one autocorrelation of the fit's residuals (window minima of AR(1) noise reach 0.9) shrinks the points
# to n (1 - r) / (1 + r) independent ones; past 0.95 the estimate is its own error (~1 / sqrt(n)), not the noise's.
FILL_MAX_LAG1 = 0.95
# A significant tail trend after a fill still makes a plateau when it is this small a share of the fill's
# rate (and below half the leak bar over the tail): rw_py_lru_long_fill evicts at 0.2 % of its fill rate;
# a linear leak after a warm-up (benchmark linear_leak #20, seed 20240611) keeps 64 % of it.
IRRELEVANT_TAIL_SHARE = 0.05
# A fill under GC ramps whose tail is read level only because it has held longer than the rise took (classify.
# _flat_tail's `held`: its band still holds the rise that matters) is a no-leak at most this sure: in a family built to
# hide slow leaks after fills under GC ramps (300 of each, 2026-12-07), of the verdicts it changed 24 were fills and
# 4 leaks of 2-4 % of the level (86 %); in a helper's review of eight such families (two seeds, 11,200 traces: fills
# then linear, exponential or step leaks, V8 ramps, arena steps, fills that never stop, late leaks), 204 and 16 (93 %).
HELD_LONG_CONFIDENCE = 0.8
# A restart inferred with no recorded restart and no limit (segments.split): memory that climbs to more than
# this many times its level after the fall, and falls back, is not a garbage collector's cycle. V8 starts its
# next full collection when the old generation reaches at most kMaxGrowingFactor = 4.0 times what survived the
# last (src/heap/heap-controller.h), and RSS also holds the runtime's fixed part (code, new space), so RSS
# swings less than the heap; CPython has no such cycle (its RSS falls only when the program drops memory).
# Repeated (RESTART_MIN_FALLS such falls) it is the issue-20 restart loop: 120 -> 505 MB and back, six times.
# Each climb must also last at least RESTART_MIN_LIFETIME_S: a leak that fills a container takes minutes, while a
# program's own buffers can swing 4x in seconds (tests/data/dev_traces/py_sawtooth_buffers: a batch job that
# allocates ~60 MB over a 20 MB base and frees it every 2 s, healthy). A minute: the start-up transient the
# classifier already allows a restarted process (RESTART_STARTUP_S). A fall below the working floor (BIRTH_LEVEL)
# needs the same lifetime before it: two seconds into a recording, a first batch's fall is no restart.
GC_MAX_GROWTH = 4.0
RESTART_MIN_FALLS = 2
RESTART_MIN_LIFETIME_S = 60.0
# A restart is also inferred when the peaks before the fall came this near a known limit (>= 90 %): an OOM kill.
NEAR_LIMIT = 0.90

# --- the floor test (gate_trend.py): chosen on seeds 101-104 of benchmarks/gate_families.py and the
# real Node recordings of tests/data/gate (docs/benchmarks.md, "The gate's floor test") --------------
MIN_POINTS = 3  # floor points the floor test's line needs (2 with large, measured cycles: below)
# Two GC/batch cycles (periods of 15 s or more) are enough when their swing dwarfs a measured noise:
# a noise underestimated 4x (slow noise, seen from its steps) still makes spurious drops of only
# ~10 sd. A noise of 0 (whole pages, most steps 0) measures nothing: then 3 points, as before.
MIN_CYCLE_POINTS = 2
TWO_CYCLE_SWING = 25.0

# A V8-like cycle climbs steadily from its floor: a line through the whole cycle places its start
# far better than the few samples near the bottom of a steep ramp (chosen on seeds 101-104).
RAMP_SHARE = 0.75  # this share of the cycles must be steady ramps for their residuals to give the noise
RAMP_RISE = 20.0  # a ramp climbs this many times its residual sd (slow noise wanders look like ramps)
JUMP_SHARE = 0.5  # a cycle that climbs this much of its rise in jumps is arena steps or a batch job

# From this many floor points on, when the noise is measured only from steps between samples (which
# a short-period arena's steps inflate 3-6x), the points' own scatter gives the slope's error,
# allowing for their correlation (a noise slower than the cycles moves neighbouring floors together).
TRUST_SCATTER_POINTS = 12
SCATTER_FLOOR = 0.04

# The gate's rule, chosen on tuning seeds of benchmarks/gate_families.py (see docs/benchmarks.md):
# fail when the floor rises faster than RISING_RATE, by more than RISING_Z standard errors, and the
# last part of the window does not show it levelling off (a cache fill, V8 sizing its heap).
RISING_RATE = 2.5 * 1024**2 / 60  # bytes/s: half the 5 MB/min the gate must catch
RISING_Z = 2.33  # one-sided 99 %: a healthy floor is called rising at most ~1 % of the time
# A leak's growth shown is its floor test's last part (LATE_SHARE) where that part's rate differs from the window's
# line by more than RATE_NOW_Z standard errors of the difference (engine._leak_rate_now). A review (2026-12-07, 581
# steady synthetic leaks): at RISING_Z, 12 switched falsely (the two-sided ~2 % of 2.33 sigmas); at 3, 1. On
# benchmarks/gate_families.py's steady leaks (tuning seed 8, 1,200 gates at 20 ms), whose floor points carry noise
# slower than their cycles (their errors understated), 14 switched at 3 (z 3.0-3.4 but one, 9 further from the
# truth); at 4, one (z 5.7, five floor points). A leak that began late switches at z 15 (py_late_traceback_leak_90s).
RATE_NOW_Z = 4.0
# Where the floor points' own scatter bounds the error (SCATTER_POINTS or more of them), that scatter is an
# estimate from k points, so the slope must also clear Student's t at this level with k - 2 degrees of
# freedom times the scatter's error (a line through k points leaves k - 2). With the normal 2.33 alone, 8
# floor points of a healthy Node server (V8 troughs on ~1 MiB levels, repeating in pairs; scatter and
# noise model agreeing, chi2 1.05) were called rising in 1 of 12 8-second gates here and 1 of 5 CI runs
# (tests/test_gate.py::test_node_programs); t with 6 degrees of freedom is 3.14.
RISING_LEVEL = 0.99
# Below SCATTER_POINTS the floor points' scatter is not used routinely (Student's t with 1-3 degrees of
# freedom would blunt every short window), except when it falsifies the noise model: their chi-square
# around the line beyond this quantile (1 in 1000 under the model). A Node worker pool's five "floor"
# points (84.7, 164.9, 125.2, 80.4, 77.5 MiB: troughs and busy plateaus of 40 MiB jobs) lay hundreds of
# modelled errors off their line, and a slope fitted to two of them was called a rise of 467 +/- 0.05
# MiB/min; with the scatter's error (355 MiB/min) it is not rising. The bar stays RISING_Z: Student's t
# with 1-3 degrees of freedom (6.96-31.8) missed 20 and 50 MiB/min leaks seen over 3 cycles
# (benchmarks/gate_families.py --quick --seed 2027: leaks caught 99.7 -> 98.0 %; with RISING_Z 99.3 %).
MODEL_REJECT_LEVEL = 0.999
# Levelling off: the last part's trend under half the whole window's, and below the part before it
# by this many standard errors. The two parts are disjoint, so their errors add as a hypotenuse;
# the whole window's trend, which shares the last part's points, called a linear leak levelling
# off more often and a cache fill less (seeds 101-104: false failures 0.53 -> 0.38 %).
LEVELLING_Z = 2.5
# The floor test's "last part" is the window's last 40 %, compared with the first 60 % (docs/benchmarks.md,
# "Ramps, recentred floors and the early/late levelling test": comparing the late slope with the whole
# window's, which shares its points, called linear leaks levelling off).
LATE_SHARE = 0.4
# One step, then level: the floor rose mostly (at least ONE_STEP_SHARE of its rise from the first floor point
# to the last) between two consecutive floor points and held level for at least MIN_POINTS floor points after
# (their range within ONE_STEP_LEVEL_SD noise sds: the range of 3-5 draws of one noise stays under 4 sd ~95 %
# of the time), the step itself at least twice that range (a step, not the largest difference of a noisy
# line: a 5 MiB/min leak's 0.7 MiB per 8 s cycle under 1.4 MiB of noise), and the points after it not
# climbing at the gate's RISING_RATE by their Theil-Sen slope (a warm-up step, then a 5 MiB/min leak under
# 1 MiB of noise: gate_families --seed 8 lost 2 such leaks without this). A line through such points is a
# steep slope fitted to one jump: memory kept once (a cache warmed, an allocator keeping a freed block: a
# sequential job runner's floor 13 -> 43 MiB once, then level for 5 cycles, read "leak, 0.99" beside "watch
# about 17s more to decide"). A second step, or a rise after the level, is what makes it growth that goes
# on: not judged rising until a longer watch shows one. A fill settling over a few cycles is the same shape: a
# step (of twice the level's range) at every floor point from the first until the level, none between, then
# level as above (a 60 MiB fill in 170 s under 109 s GC ramps, floor points 100, 137, 151, 151, 151 MiB, read
# "leak, 0.97": benchmarks/classifier's sawtooth_fill). A step leak holds level between its steps, and a
# leak's line climbs in increments within the noise: neither has that shape.
ONE_STEP_SHARE = 0.5
ONE_STEP_LEVEL_SD = 4.0
TARGET_RATE = 5 * 1024**2 / 60  # the smallest leak a gate of this length should catch
CATCH_Z = 2.33  # ~99 % of such leaks
# V8 sizes its heap during a service's first minutes: real healthy Node servers here show troughs
# rising 2.5-3.6 MiB/min under a 26-32 MiB GC swing in their first minute (flat after ~75 s). A rise
# under GC ramps that stays under a quarter of the swing and, by one standard error, under 4.5 MiB/min
# is that, or a slow leak: a 60 s window cannot tell them apart, so the gate says so (state
# "heap-sizing", verdict inconclusive) instead of failing.
SIZING_SHARE = 0.25
SIZING_RATE = 0.9 * TARGET_RATE  # ... and only while the rate is, within one standard error, below this
IDLE_SHARE = 0.4  # cycles that sit at their floor this long are batch jobs, not a GC heap being sized
# Heap evidence in the diagnosis: a container that grew in at least this many intervals between
# snapshots, faster than the upper end of the trace's floor-growth interval, contradicts a
# "no-leak" (the two measurements disagree, so the honest verdict is inconclusive). One interval
# is not enough: a burst or a one-off fill grows a container once; the diffs keep, with three
# snapshots, only what grew in both steps (heap/python/diff.py, heap/v8/diff.py).
HEAP_MIN_INTERVALS = 2

# --- which diff rows are suspects (suspects.py) ----------------------------------------------
# A row is a suspect only when it explains at least this share of the growth the diff found (the sum
# over the rows that partition the heap: Python's per-type rows, else every row). Capping a container
# that explains 5 % of the growth moves the time to the limit by about 5 %, inside the forecast's own
# median error (6 %, docs/benchmarks.md "Time to limit"): such a row changes no decision. Issue 21's
# runs had the right top row followed by dict/int/float/code rows each under 0.1 % of the growth.
MIN_SUSPECT_SHARE = 0.05
# Without a leak verdict from the trace, the rows together must have grown by at least this share of
# the heap at the first snapshot, or nothing significant grows: the share `memdoctor doctor` spaces its
# snapshots for (pipelines/doctor.py GROWTH_SHARE_BETWEEN_SNAPSHOTS: a leak grows the heap by 3 % per
# interval, so >= 3 % over the series). Measured on idle healthy targets (3 snapshots 10 s apart):
# Python examples/python/healthy_worker.py 2.0 % (101 KiB of 4.7 MiB, mostly the gdb capture's own code
# objects awaiting the collector), Node examples/node/healthy_server.js 0 rows.
MIN_HEAP_GROWTH_SHARE = 0.03

# --- the pytest plugin's per-run budget (per_run.py) ------------------------------------------
# A run "rose" when it left more than this share of the budget behind: half, so that a test within
# budget (each run under it) whose runs scatter around the budget's middle is not counted rising, and
# a test over budget (each run above it) always is.
PER_RUN_RISE_SHARE = 0.5
# ... and a test fails only when at least this share of its runs after the warm-up rose: a cache filled
# once, a lazy import in the second run, is one jump, not memory kept per run (pytest-memray's
# limit_leaks fails on one run's leftovers; the plugin's own tests have both cases).
PER_RUN_MIN_RISING_SHARE = 0.5
