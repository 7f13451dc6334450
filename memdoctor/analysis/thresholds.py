"""Every threshold of the one diagnosis, each with why that value and where it came from.

The classifier's own rule constants (classify.py) and the floor test's noise model (gate_trend.py)
import theirs from here too, so a change of policy is one edit in one file.
"""

from __future__ import annotations

# --- the engine (engine.py) ---------------------------------------------------------------
# The floor test measures growth from one point per GC/batch cycle with a noise model; it was tuned
# on 60 s gates at 20-200 ms (benchmarks/gate_families.py: 99.25 % of >= 5 MiB/min leaks caught,
# 0.39 % false failures over ten seeds). Up to 10 minutes its error model still holds (a 10-minute
# gate at 20 ms is 30,000 samples); past that the classifier's Theil-Sen on troughs takes over.
FLOOR_TEST_MAX_S = 600.0
FLOOR_TEST_MAX_SAMPLES = 200_000  # floor_trend is O(n) but keeps per-cycle arrays: bounded for speed
# Up to this long a window is the floor test's to judge: a classifier leak it finds flat (no rise above
# RISING_RATE while it would catch 5 MiB/min) or levelling off is overruled. From memdoctor/gate.py, where
# the gate's seeds 101-104 chose it (docs/benchmarks.md, "The gate's floor test").
SHORT_WINDOW_S = 120.0
# The floor test's decision line (a floor rising faster is a leak): half of the 5 MiB/min a 60 s gate must
# catch; chosen with RISING_Z = 2.33 on seeds 101-104 of benchmarks/gate_families.py.
RISING_RATE = 2.5 * 1024**2 / 60
# A GC sawtooth swings >= 15 % of its floor level (classify.SAWTOOTH_AMPLITUDE, from the V8 and CPython
# traces in tests/data/dev_traces): used to name a leak found by the floor test under GC cycles.
SAWTOOTH_AMPLITUDE = 0.15
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
STEADY_MIN_S = 120.0
STEADY_LATE_SHARE = 0.5
RISING_Z = 2.33  # one-sided 99 %: gate_trend.RISING_Z
# The growth interval shown beside every growth: 90 %, the level of the classifier's Theil-Sen band
# (trend.mann_kendall_sen alpha 0.10, Gilbert 1987) so both estimators print the same kind of interval.
GROWTH_INTERVAL = 0.90
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
