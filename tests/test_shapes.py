"""Fresh recordings whose shape the one diagnosis named wrongly (tests/data/shapes, its labels.csv).

- node_step_jobs: a staircase the floor test found rising, where the classifier had too few GC cycles
  (two compactions in 90 s) to name a shape: it was called linear.
- node_buffer_sawtooth: a level floor under two large drops was called stable, and its first batch's
  fall at 4 s (below the floor later batches settle at) an inferred restart.
- py_cache_fill_fast: a fill in the first 4 s then 86 s flat read "inconclusive, 2.8 MiB/min" (the floor
  test's line through the fill; its own last part is flat).
- py_sawtooth_slow_leak: a first batch's climb and fall in the first 3 s read as a restart, and the
  start-up before it as a completed lifetime that climbed: "leak, restart loop, 20.1 MiB/s".
- py_slow_leak_7min: a 165 MB process keeping 417 KiB/min (15 % of its level an hour, p < 0.001) read "no-leak,
  significant but too small to matter" (under 1 MiB/min and under 2 % of its level in 7 minutes); its healthy
  twin py_slow_ok_7min stays no-leak.
- py_sessions_expire_3min: a session store filling 21 -> 43 MiB in 30 s, then flat, read "stable" with the floor
  test's 3.6 MiB/min through the fill as its growth (the classifier had left the fill out as the start-up).
- py_batch_drop_3min (not labelled: start-up then flat, stable or plateau by taste): its plateau line said "floor
  rose 0 B in the first 1m11s" of a rise of 53 MiB in 5 s.
- node_lru_fill_4min (not labelled: healthy by its code, "unclear" on its plot): "leak, 0.99" above the floor test's
  "levels off at the end: a warm-up or cache fill, not judged a leak".
- py_lru_fill_170s (an OrderedDict capped at 3000 entries, fills for 76 s): "then held flat (... p < 0.001)" beside a
  significant small rise, and the floor test's "2.4 MiB/min, no rise above 2.5 MiB/min" beside a growth of
  246.5 KiB/min, with nothing saying the 2.4 was the fill's.
- node_map_nosweep_105s (a Map never evicted, not plain at 105 s): "plateau" and "levels off at the end
  (4.2 MiB/min): ... not judged a leak" beside the classifier's "steady growth of 4.4 MiB/min".
- node_batch_flush_ok_6min / node_batch_flush_closure_leak_6min (a 96 KiB Buffer per request batched for 15 s;
  the leak also keeps a closure per request): the floor test's line through the start-up (12 -> 170 MiB in 25 s)
  read "leak, 4.2 MiB/min" on the flat one, failing its gate, and "levels off at the end: a warm-up" on the leak,
  passing its gate; the leak's start-up also made "5 steps of about 16.4 MiB each" of a floor that rose 11 MiB.
- py_audit_records_leak_5min (0.6 MiB/min kept by a Python app): its first 2 minutes read "no-leak (stable)" beside
  a floor growth of 1.1 MiB/min (634 KiB/min to 1.7 MiB/min), the floor test's "flat" being only the short gate's
  tolerance; the live line held that no-leak for 3 minutes.
- node_buffer_churn_90s (a Node Buffer churn, 69 MiB swings over troughs that rose 30 MiB as V8 sized its heap in the
  first 26 s): the classifier's sawtooth was renamed "plateau" by the engine's rule for a start-up fill the
  classifier had left out.
- node_map_leak_low_90s (a Node Map leak at ~0.25 MB/s, a line on its plot): "25 steps of about 692 KiB each, flat
  in between", V8's heap commits under wiggles of half their size.
- py_one_spike: one spike falling over three samples made "3 GC cycles" whose troughs "moved -2.2 GiB/s":
  inconclusive, watch 9 min more, on a process flat for 4 minutes.
- py_buffer_spike_90s / py_buffer_reload_90s (a flat Python process holding a 120 MB buffer for 3 s once; one
  dropping its 100 MB buffer for 10 s and building it again): "inconclusive: one GC or batch drop in this window"
  beside "floor rose 0 B over 1m29s (256 points)", a level series around one spike or one dip.
- py_two_jobs_kept_90s (a job runner keeping 150 MB per job, jobs at 20 s and 45 s): "no-leak (plateau), warm-up or
  cache fill" where the same staircase with its second step later read "leak (step)".
- node_slow_array_leak_180s.jsonl (a Node server keeping a ~2 KB object per request at 20 req/s): RSS flat for its
  last 2 minutes read "no-leak (plateau), 0.95" while the V8 heap recorded beside it rose 2.3 MiB/min, a leak by
  the same diagnosis, at a rate the flat RSS floor's interval still held.
- node_retry_hedge_exp_90s (retries that hedge new retrying calls: 40 -> 930 MiB in 90 s, a curve in steps with four
  small settles): "leak (sawtooth)" from the settles, too few troughs for the classifier's shape tests, with a
  straight line's time to the limit (54 min to the machine's 23.5 GiB, where the curve gives about a minute).
- py_numpy_fft_short_sawtooth_90s (numpy batches every 1.6 s whose spikes settle at 107 MiB for 0.5 s before falling
  to a flat 28 MiB floor): the settles were floor points of the floor test, "8.7 +/- 6.9 MiB/min", inconclusive.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tests.conftest import memdoctor

SHAPES = Path(__file__).resolve().parent / "data" / "shapes"
with (SHAPES / "labels.csv").open() as fh:
    LABELS = list(csv.DictReader(fh))


@pytest.mark.parametrize("label", LABELS, ids=[row["trace"] for row in LABELS])
def test_fresh_recording_reads_as_its_plot(label: dict[str, str]) -> None:
    path = SHAPES / f"{label['trace']}.csv"
    if not path.exists():
        path = path.with_suffix(".jsonl")  # memdoctor's own recordings, as `memdoctor run` wrote them
    d = json.loads(memdoctor("analyze", str(path), "--json", check_code=None).stdout)
    assert d["restarts"] == int(label["restarts"]), d["evidence"]
    assert not any("restart loop" in line for line in d["evidence"]), d["evidence"]
    if label["leak"]:
        assert d["verdict"] == ("leak" if label["leak"] == "yes" else "no-leak"), d["evidence"]
        assert d["pattern"] == label["pattern"], d["evidence"]


def test_a_start_up_is_not_the_growth_of_a_flat_floor() -> None:
    """py_sawtooth_slow_leak: after its first 8 s (a batch that climbed to 53 MiB and fell to 14 MiB, then the
    climb back) it held 54-56 MiB for 82 s; the floor test's line through the start-up measured 5.4 MiB/min, a
    leak's rate, and the answer was "inconclusive, 5.4 MiB/min". Without the start-up: 0.9 MiB/min."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "py_sawtooth_slow_leak.csv"), "--json", check_code=None).stdout)
    assert d["verdict"] != "inconclusive", d["evidence"]
    assert d["growth_bytes_per_s"] < 2.5 * 1024**2 / 60, d


def test_a_slow_leak_that_reaches_the_limit_within_a_day_is_a_leak() -> None:
    """py_slow_leak_7min.csv (programs/py_slow_leak_7min.py: a 165 MB process keeping a ~690 B audit string per
    lookup, 10 lookups/s, 417 KiB/min, Mann-Kendall p < 0.001): its 2.9 MiB rise in 7 min is under 2 % of the level
    and under 1 MiB/min, so with a 512 MB limit it read "no-leak" beside its own "limit in 14h05m". A rise at a
    rate reaching the limit within a day matters. (Without a limit it is a leak too now, by its rate of 15 % of its
    level an hour over 7 minutes: labels.csv, thresholds.STEADY_LEVEL_RATE.)"""
    path = str(SHAPES / "py_slow_leak_7min.csv")
    d = json.loads(memdoctor("analyze", path, "--limit", "512MB", "--json", check_code=None).stdout)
    assert d["verdict"] == "leak", d["evidence"]
    assert d["time_to_limit_s"] is not None and d["time_to_limit_s"] < 24 * 3600, d
    gate = json.loads(memdoctor("gate", "--trace", path, "--limit", "512MB", "--json", check_code=None).stdout)
    assert "verdict" in gate["failures"], gate["checks"]


def test_no_floor_point_is_known_better_than_a_page() -> None:
    """node_interval_ok_gate_2min.csv (an Express app clearing its per-request timers, a 2-minute `gate`
    recording; its troughs rose 54 -> 68 MiB while V8 sized its heap): two floor points of a band with no
    measured noise weighed 1 byte^2 and carried the whole line, "7.7 MiB/min +/- 0.0", limit "2d04h (2d04h to
    2d04h)". With a page's variance as the least, the interval is the points' own scatter."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_interval_ok_gate_2min.csv"), "--json",
                             check_code=None).stdout)
    low, high = d["growth_interval_bytes_per_s"]
    assert high - low > 0.5 * 1024**2 / 60, d


def test_a_leak_decided_by_the_floor_test_does_not_say_watch_more() -> None:
    """node_step_jobs: the classifier's "only 3 GC cycles ...; watch about 3m20s more" stood above the floor
    test's leak at 0.99: how much longer to watch is said only for an answer that stays undecided."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_step_jobs.csv"), "--json", check_code=None).stdout)
    assert d["verdict"] == "leak"
    assert not any("watch about" in line for line in d["evidence"]), d["evidence"]


def test_no_advice_on_where_a_growth_is_when_there_is_no_leak() -> None:
    """node_churn_slow_leak_7min.jsonl (programs/node_churn_slow_leak_7min.js: a 2 MB JSON body parsed per
    request at 20 req/s, ~420 B kept per request: 0.5 MiB/min, invisible under the churn): `report` printed
    "memory grows outside the runtime heap ... a heap cap will not stop it" beside its own "no-leak"."""
    path = str(SHAPES / "node_churn_slow_leak_7min.jsonl")
    report = json.loads(memdoctor("report", path, "--format", "json", check_code=None).stdout)
    assert report["diagnosis"]["verdict"] != "leak"
    assert not report["outside_heap"].get("outside_heap"), report["outside_heap"]
    assert "advice" not in report["outside_heap"], report["outside_heap"]


def test_a_fill_left_out_as_the_start_up_is_a_plateau_with_the_growth_of_now() -> None:
    """py_sessions_expire_3min: sessions kept 30 s fill 21 -> 43 MiB, then the floor is flat. The classifier left
    the fill out as the process's start-up and read "stable"; the growth shown was the floor test's line through
    the fill, 3.6 MiB/min, beside it. The floor test saw the rise level off: a plateau, growing as fast as its
    last part (~0)."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "py_sessions_expire_3min.csv"), "--json", check_code=None).stdout)
    assert (d["verdict"], d["pattern"]) == ("no-leak", "plateau"), d["evidence"]
    assert abs(d["growth_bytes_per_s"]) < 0.25 * 1024**2 / 60, d


def test_a_plateau_says_how_much_and_how_soon_the_floor_rose() -> None:
    """py_batch_drop_3min: a job runner whose 1 MiB buffers are kept by the allocator: RSS 6 -> 59 MiB in its first
    5 s, then flat for 3 minutes. The plateau's line read "floor rose 0 B in the first 1m11s" (the rise measured
    from a line fitted to the whole floor, the time where flatness was first tested)."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "py_batch_drop_3min.csv"), "--json", check_code=None).stdout)
    line = next(x for x in d["evidence"] if x.startswith("floor rose"))
    rose = re.match(r"floor rose ([\d.]+) (\w+) in the first ([\d.]+)s,", line)
    assert rose is not None, line
    assert float(rose.group(1)) > 0 and rose.group(2) == "MiB" and float(rose.group(3)) < 15, line


@pytest.mark.parametrize("name", ["py_mmap_fill_5min", "py_mmap_fill_8min"])
def test_a_fill_settling_over_minutes_is_not_a_steady_leak(name: str) -> None:
    """A read-only lookup service over a 3 MB (8 MB) mmap'd index in a 216 MB (118 MB) process: random lookups fault
    in its pages, so RSS grows as 1 - exp(-t/tau), tau 150 s (240 s), bounded by the file (programs/). Found by an
    adversarial review of the 10 %/h steady-rise rate: "the floor rose steadily ... 490 KiB/min (13 % of its level an
    hour) ... as fast in the last part of the window: a leak" on the first 5 minutes of the first, its later rate 0.39
    of its earlier; on the second beside the classifier's own "growth is decelerating". Steady means not settling
    (thresholds.STEADY_RATE_KEPT), and the classifier's halves must not show the rise slowing."""
    d = json.loads(memdoctor("analyze", str(SHAPES / f"{name}.csv"), "--json", check_code=None).stdout)
    assert d["verdict"] != "leak", d["evidence"]
    assert not any("rose steadily" in line for line in d["evidence"]), d["evidence"]


def test_a_leak_line_over_a_floor_that_levels_off_at_the_end_is_undecided() -> None:
    """node_lru_fill_4min.csv (programs/node_lru_fill_4min.js: lru-cache max 6000 pages at 50 unique requests/s):
    RSS climbs 55 -> 119 MiB, holds for 40 s, climbs again. The classifier's line over the window's minima said
    leak (0.99) while the floor test's last part said the rise levels off: one answer, undecided, with how much
    longer to watch, and the growth now (the last part's), not the whole window's line."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_lru_fill_4min.csv"), "--json", check_code=None).stdout)
    assert d["verdict"] == "inconclusive", d["evidence"]
    assert d["watch_more_s"] and d["watch_more_s"] > 0, d
    assert d["growth_bytes_per_s"] < 10 * 1024**2 / 60, d


def test_a_rise_slowing_down_but_still_at_a_leaks_rate_is_not_called_levelled_off() -> None:
    """node_map_nosweep_105s.csv (programs/node_http_map.js nosweep, 40 unique requests/s): a fast warm-up, then
    4.2 MiB/min to the end. Undecided at 105 s is honest (its healthy twin's first minute looks the same), but
    "plateau" and "levels off at the end: ... not judged a leak" stood beside "steady growth of 4.4 MiB/min"."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_map_nosweep_105s.csv"), "--json", check_code=None).stdout)
    assert d["verdict"] in ("inconclusive", "leak"), d["evidence"]
    assert d["pattern"] != "plateau", d["evidence"]
    assert not any("levels off" in line or "not judged a leak" in line for line in d["evidence"]), d["evidence"]
    assert 2.5 * 1024**2 / 60 < d["growth_bytes_per_s"] < 6 * 1024**2 / 60, d  # the rate now, not the warm-up's


def test_a_significant_rise_is_not_called_held_flat_and_the_fills_rate_is_named() -> None:
    """py_lru_fill_170s.csv: the plateau's tail rose 0.4 MiB (one 0.3 MiB step at 138 s), p < 0.001, and was "held
    flat"; the floor test's whole-window 2.4 MiB/min (the fill) stood unexplained beside a growth of 246.5 KiB/min."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "py_lru_fill_170s.csv"), "--json", check_code=None).stdout)
    assert (d["verdict"], d["pattern"]) == ("no-leak", "plateau"), d["evidence"]
    plateau = next(line for line in d["evidence"] if line.startswith("floor rose"))
    assert not ("held flat" in plateau and "p < 0.0" in plateau), plateau
    floor_test = next(line for line in d["evidence"] if line.startswith("floor test"))
    assert "fill" in floor_test, floor_test


def test_a_start_up_ramp_does_not_make_the_floor_test_disagree_with_the_classifier() -> None:
    """node_batch_flush_*_6min.csv: where the whole window's floor test disagrees with the classifier (rising under a
    no-leak, levelling off under a leak) only because its line runs through the process's start-up, it is measured
    again without the start-up (segments.birth_s), as it already was where it could not judge."""
    ok = str(SHAPES / "node_batch_flush_ok_6min.csv")
    leak = str(SHAPES / "node_batch_flush_closure_leak_6min.csv")
    d_ok = json.loads(memdoctor("analyze", ok, "--json", check_code=None).stdout)
    assert d_ok["verdict"] == "no-leak", d_ok["evidence"]
    assert abs(d_ok["growth_bytes_per_s"]) < 0.5 * 1024**2 / 60, d_ok
    d_leak = json.loads(memdoctor("analyze", leak, "--json", check_code=None).stdout)
    assert d_leak["verdict"] == "leak", d_leak["evidence"]
    assert 1.0 * 1024**2 / 60 < d_leak["growth_bytes_per_s"] < 2.5 * 1024**2 / 60, d_leak
    for d in (d_ok, d_leak):
        assert any("left out of the floor test" in line for line in d["evidence"]), d["evidence"]
    assert json.loads(memdoctor("gate", "--trace", ok, "--json", check_code=None).stdout)["passed"]
    assert not json.loads(memdoctor("gate", "--trace", leak, "--json", check_code=None).stdout)["passed"]
    compared = json.loads(memdoctor("compare", leak, ok, "--json", check_code=None).stdout)
    assert compared["outcome"] == "fixed", compared["evidence"]


def test_jumps_adding_to_many_times_the_rise_are_not_a_staircase() -> None:
    """node_batch_flush_closure_leak_6min.csv: the start-up's jumps (12 -> 170 MiB) made "the floor rose in 5 steps
    of about 16.4 MiB each" (82 MiB) of a floor whose trend rose 11 MiB in a line."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_batch_flush_closure_leak_6min.csv"), "--json",
                             check_code=None).stdout)
    assert d["pattern"] == "linear", d["evidence"]
    assert not any("steps of about" in line for line in d["evidence"]), d["evidence"]


def test_the_time_to_the_limit_leaves_room_for_the_peaks_above_the_floor_it_measured() -> None:
    """node_emitter_listener_leak_4min.csv: a leak decided by the floor test (the classifier saw 5 GC cycles, too
    few) under a 20-35 MiB sawtooth printed "floor 69.3 MiB + peaks 0 B above it": the classifier, giving up, had
    measured no peaks, and the floor test's line took its excursion. The limit is hit at the peaks."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_emitter_listener_leak_4min.csv"), "--limit", "512MB",
                             "--json", check_code=None).stdout)
    assert d["verdict"] == "leak", d["evidence"]
    line = next(x for x in d["evidence"] if "peaks" in x and "above it" in x)
    peaks = re.search(r"peaks ([\d.]+) (B|KiB|MiB) above it", line)
    assert peaks is not None, line
    assert peaks.group(2) == "MiB" and float(peaks.group(1)) >= 10, line


def test_a_sawtooth_of_the_floor_itself_is_described_by_its_own_swing() -> None:
    """node_emitter_listener_leak_4min_v8heap.csv (the same run's V8 heap series, one sample every 5 s): too few
    samples per GC cycle for a floor under the cycles, so the floor itself is the sawtooth; the evidence read
    "sawtooth: memory swings 0 B above its floor, 0 cycles" under the pattern sawtooth."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_emitter_listener_leak_4min_v8heap.csv"), "--json",
                             check_code=None).stdout)
    assert d["pattern"] == "sawtooth", d["evidence"]
    line = next(x for x in d["evidence"] if x.startswith("sawtooth"))
    assert "0 B above" not in line and "0 cycles" not in line, line


def test_a_significant_rise_under_the_short_gates_tolerance_is_undecided_not_stable() -> None:
    """py_audit_records_leak_5min.csv: in a window of up to 2 minutes the floor test fails only above 2.5 MiB/min;
    a rise below that but significant (its own line, and the classifier's) is for a longer watch to decide, not
    "no-leak (stable)" beside a growth interval far from 0. The whole recording is a leak; its healthy twin stays
    no-leak on every prefix."""
    import numpy as np

    from memdoctor.analysis import diagnose
    from memdoctor.traces.reader import read_trace

    for name, want in (("py_audit_records_leak_5min", "leak"), ("py_audit_records_ok_5min", "no-leak")):
        trace = read_trace(str(SHAPES / f"{name}.csv"))
        t, m = np.asarray(trace.t) - trace.t[0], np.asarray(trace.rss, dtype=float)
        for end in (60.0, 90.0, 120.0):
            d = diagnose(t[t <= end], m[t <= end])
            if want == "leak":
                assert d.verdict != "no-leak", (end, d.evidence)
                assert d.watch_more_s, (end, d.evidence)
            else:
                assert d.verdict == "no-leak", (end, d.evidence)
        assert diagnose(t, m).verdict == want


def test_two_steps_then_a_short_wait_is_not_a_fill() -> None:
    """py_two_jobs_kept_90s.csv (programs/py_two_jobs_kept.py: each job's 150 MB kept, jobs at 20 s and 45 s, then
    45 s level) read "no-leak (plateau): floor rose 300 MiB in the first 46s, then held flat: warm-up or cache fill,
    not a leak". A rise in sharp steps is not a fill, and 45 s without a step is under three of their 25-s spacings
    (thresholds.STEPS_QUIET_SPACINGS): the next job may keep 150 MB more. Undecided, with how long to watch, the
    whole floor's growth and its time to the limit."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "py_two_jobs_kept_90s.csv"), "--limit", "1GB", "--json",
                             check_code=None).stdout)
    assert (d["verdict"], d["pattern"]) == ("inconclusive", "step"), d["evidence"]
    assert d["watch_more_s"] and 0 < d["watch_more_s"] <= 3 * 25, d
    assert d["growth_bytes_per_s"] > 1024**2, d  # ~300 MiB in 90 s, not a plateau's 0
    assert d["time_to_limit_s"] is not None, d
    assert any("2 steps of about 150" in line and "if the steps go on" in line for line in d["evidence"]), d


def test_a_heap_series_leak_the_floor_does_not_rule_out_is_not_a_no_leak() -> None:
    """node_slow_array_leak_180s.jsonl (programs/node_slow_array_leak.js, loaded by programs/loadgen.js at 20 req/s,
    recorded by `memdoctor run -- node`, which keeps V8's used heap beside RSS every 5 s): each request's ~2 KB entry
    is kept, but V8 grows its heap inside pages it had committed, so RSS rose 15.5 MiB in the first minute and then
    held flat (interval -1.7 to 2.4 MiB/min). It read "no-leak (plateau): warm-up or cache fill, not a leak", 0.95;
    the same diagnosis on the heap series says leak, 2.3 MiB/min, p < 0.001. The heap counted against a no-leak
    only above the floor's interval; a rate the interval still holds has not been ruled out either."""
    path = str(SHAPES / "node_slow_array_leak_180s.jsonl")
    d = json.loads(memdoctor("analyze", path, "--json", check_code=None).stdout)
    assert d["verdict"] == "inconclusive", d["evidence"]
    assert d["watch_more_s"], d
    assert any(line.startswith("heap: the runtime heap series") and "does not rule out" in line
               for line in d["evidence"]), d["evidence"]
    assert not any("not a leak" in line for line in d["evidence"]), d["evidence"]
    heap = json.loads(memdoctor("analyze", path, "--metric", "heap", "--json", check_code=None).stdout)
    assert heap["verdict"] == "leak", heap["evidence"]


def test_a_fill_under_gc_cycles_that_held_flat_is_not_a_leak_by_the_floor_tests_line() -> None:
    """node_short_sawtooth_buffers_90s.csv (memdoctor's own CSV, as recorded): a healthy Node thumbnailer, 48 MiB
    Buffer ramps every 1.2 s, troughs that crept 4.3 MiB between 36 and 46 s and held flat for the last 44 s. The
    classifier read a fill that held flat and named it sawtooth (a fill under GC cycles); the floor test's line
    through the creep ("rises 4.0 MiB/min") overruled it: "leak, 0.95". The rule that makes a plateau reading
    against a rising floor test undecided read the name "plateau", not the reading. Then "inconclusive, watch 1m30s
    more", though the floor test's own last part (0.10 +/- 0.02 MiB/min) and the classifier's tail band (under 1
    MiB/min) both rule out the rate a short window fails on: the rise stopped, as for a plateau the floor test cannot
    judge (test_a_big_start_up_then_level_is_not_undecided_where_the_late_floor_is_measured)."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_short_sawtooth_buffers_90s.csv"), "--json",
                             check_code=None).stdout)
    assert d["verdict"] == "no-leak" and d["pattern"] == "sawtooth", d["evidence"]
    assert 0 <= d["growth_bytes_per_s"] < 2.5 * 2**20 / 60, d["growth_bytes_per_s"]
    assert not any("fails above" in line for line in d["evidence"]), d["evidence"]
    assert any(line.startswith("floor test:") and "the rise stopped" in line for line in d["evidence"]), d["evidence"]


def test_a_big_start_up_then_level_is_not_undecided_where_the_late_floor_is_measured() -> None:
    """node_bigstart_flat_90s.csv (memdoctor's own CSV): a Node service loading ~330 MB in 9 s, then level. The
    floor test's line through the load could not judge (22.4 +/- 18.6 MiB/min), and the rule for a short plateau the
    floor test cannot confirm read "inconclusive, watch 8m44s more", though its own last part (0.95 +/- 0.02
    MiB/min) and the classifier's tail band (under 0.95 MiB/min) both rule out the rate a short window fails on."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_bigstart_flat_90s.csv"), "--json", check_code=None).stdout)
    assert d["verdict"] == "no-leak", d["evidence"]
    assert abs(d["growth_bytes_per_s"]) < 2.5 * 2**20 / 60, d["growth_bytes_per_s"]


def test_a_curve_the_floor_test_finds_rising_is_exponential_with_the_curves_time_to_the_limit() -> None:
    """node_retry_hedge_exp_90s.csv (memdoctor's own CSV): retries hedging new retrying calls, 40 -> 930 MiB in 90 s
    with four small settles. The classifier had 4 troughs, too few for its shape tests, and named the settles a
    sawtooth; the floor test's leak kept that name and a straight line's forecast. The floor test's points name the
    curve (classify.acceleration), and the limit is forecast along it from the floor measured last (engine
    ._exponential_growth): with its peaks at 929 MiB, a 1 GiB limit is seconds away, not "54 min" (a line) nor "0ms"
    (the curve unmoved, which ends above the floor the process settled to in its last 4 s)."""
    path = str(SHAPES / "node_retry_hedge_exp_90s.csv")
    d = json.loads(memdoctor("analyze", path, "--limit", "1GiB", "--json", check_code=None).stdout)
    assert d["verdict"] == "leak" and d["pattern"] == "exponential", d["evidence"]
    assert 0 < d["time_to_limit_s"] < 30, d["evidence"]
    far = json.loads(memdoctor("analyze", path, "--limit", "16GiB", "--json", check_code=None).stdout)
    # A line from 785 MiB at 7.2 MiB/s reaches 16 GiB in 36 min; the curve (the excess doubling every 12 s) in ~50 s.
    assert far["time_to_limit_s"] < 120, far["evidence"]


def test_a_leak_that_starts_late_under_few_gc_drops_is_not_named_a_curve() -> None:
    """A review of the exponential named from too few troughs: flat at 132 MiB, then a line of 2.7 MiB/s from 36.5 s,
    under four GC drops in 75 s. Fitted on window minima, the sawtooth riding on them kept the broken line from
    beating the curve, and the leak read "exponential, limit in 59 s" where the line reaches 2 GiB in ~660 s. The
    curve is fitted on the floor test's points, and must still accelerate in its last quarter."""
    import numpy as np

    from memdoctor.analysis.engine import diagnose

    mib = 2**20
    rng = np.random.default_rng(0)
    t = np.arange(0, 75.0001, 0.2)
    floor = 132 * mib + 2.7 * mib * np.maximum(t - 36.5, 0)
    drops = np.array([-5.0, 10.7, 43.8, 53.2, 80.0])
    k = np.searchsorted(drops, t, side="right") - 1
    mem = np.round(floor + 31 * mib * (t - drops[k]) / (drops[k + 1] - drops[k]) + rng.normal(0, 0.4 * mib, len(t)))
    d = diagnose(t, mem, limit_bytes=2048 * mib)
    assert d.verdict == "leak" and d.pattern != "exponential", d.evidence
    assert d.time_to_limit_s is not None and d.time_to_limit_s > 300, d.evidence


def test_a_restart_loop_of_curves_is_not_at_its_limit_while_below_it() -> None:
    """The same review: lifetimes of 60 s climbing as curves from 100 MiB to a 1 GiB limit, recorded restarts, the
    last lifetime at 809 MiB. The classifier's floor now, moved to the curve's end, was added to peaks measured above
    the straight line its restart loop forecasts with: "limit reached in about 0ms". The floor now stays the line's."""
    import numpy as np

    from memdoctor.analysis.engine import diagnose

    mib = 2**20
    rng = np.random.default_rng(1)
    life, limit, base = 60.0, 1024 * mib, 100 * mib
    t = np.arange(0, 3 * life + 55 + 1e-9, 0.5)
    age = t % life
    mem = base + (limit - base) * (np.exp(3 * age / life) - 1) / (np.exp(3) - 1)
    mem = np.round(np.minimum(mem + rng.normal(0, 0.5 * mib, len(t)), 0.999 * limit))
    d = diagnose(t, mem, limit_bytes=limit, restart_times=np.array([60.0, 120.0, 180.0]))
    assert d.verdict == "leak" and d.time_to_limit_s is not None and d.time_to_limit_s > 1, d.evidence


def test_a_leaks_growth_is_its_rate_now_not_the_windows_average() -> None:
    """py_late_traceback_leak_90s.csv (memdoctor's CSV as recorded): failures' tracebacks kept from 55 s on, 88 MiB/min
    since, read "29.5 MiB/min, limit in 32m34s" (three times too late): the floor test's one line over the window,
    half of it flat. The growth, and the time to the limit that follows it, are the leak's rate now."""
    _assert_a_leak_at(SHAPES / "py_late_traceback_leak_90s.csv", 80.0, 96.0)


def _assert_a_leak_at(path: Path, low: float, high: float) -> None:
    """`analyze --limit 1GiB` reads the recording as a leak growing low-high MiB/min, its time to the limit at
    that growth."""
    d = json.loads(memdoctor("analyze", str(path), "--limit", "1GiB", "--json", check_code=None).stdout)
    assert d["verdict"] == "leak", d["evidence"]
    mib_min = d["growth_bytes_per_s"] * 60 / 2**20
    assert low <= mib_min <= high, (mib_min, d["evidence"])
    expected = (2**30 - d["last_bytes"]) / d["growth_bytes_per_s"]
    assert d["time_to_limit_s"] == pytest.approx(expected, rel=0.15), (d["time_to_limit_s"], expected)


def test_a_slow_leak_after_a_large_load_shows_the_leaks_rate_not_a_line_through_the_load() -> None:
    """py_embed_table_slowleak_90s.csv (memdoctor's CSV as recorded): a 320 MB table loaded in 6 s, then 13.9 MiB/min
    kept to the end. Both tests call it a leak; the floor test's one line runs through the load and read "57.6 MiB/min
    +/- 19.0", the limit four times too soon. The two disagree, and the narrower band (the trend over the window's
    minima, which the few load points do not move) is the growth shown."""
    _assert_a_leak_at(SHAPES / "py_embed_table_slowleak_90s.csv", 12.0, 16.0)


def test_points_the_noise_model_cannot_weigh_are_fitted_with_the_scatter_it_misses() -> None:
    """py_pandas_reread_150s.jsonl (programs/py_pandas_reread.py: a report loop re-reading one 25 MB CSV with pandas
    every 0.5 s and keeping nothing; memdoctor's JSON Lines, 200 ms): flat at 110 MiB between its spikes, with a few
    single-sample dips to 97 MiB. The floor test's noise model, measured only from steps, held the page-exact levels
    and the dips alike exact, its line leaned on the early dips, and the flat process read "the floor rises 2.7
    MiB/min +/- 1.0": leak. node_sawtooth_tiny_leak_240s.jsonl (programs/node_sawtooth_tiny_leak.js, ~0.3 MiB/min
    kept under a 25 MiB V8 sawtooth, a level floor on its plot) read "-6.2 MiB/min (-8.6 to -3.7)", a floor
    falling beyond doubt. Fitted with the scatter the model misses added to every point, both are level."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "py_pandas_reread_150s.jsonl"), "--json",
                             check_code=None).stdout)
    assert d["verdict"] == "no-leak", d["evidence"]
    assert abs(d["growth_bytes_per_s"]) < 1024**2 / 60, d["evidence"]
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_sawtooth_tiny_leak_240s.jsonl"), "--json",
                             check_code=None).stdout)
    low, high = d["growth_interval_bytes_per_s"]
    assert low <= 0 <= high, (low, high, d["evidence"])


def test_a_staircase_under_a_few_sampled_job_spikes_is_a_step_leak() -> None:
    """py_job_results_kept_180s.jsonl (programs/py_job_results_kept.py: a job every 12 s builds ~60 MB of temporary
    arrays and keeps a 12 MB result; memdoctor's JSON Lines at 1 s): 15 steps of 11.4 MiB in 3 minutes, plain on the
    plot, but only 5 of the jobs' one-second spikes fell on a sample. Their 5 drops were taken for GC cycles, the
    troughs between them were too few for a trend test, and the staircase read "inconclusive, only 5 GC cycles in the
    trace". Drops that only took back a spike, with memory rising between them, are no collector's cycles."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "py_job_results_kept_180s.jsonl"), "--json",
                             check_code=None).stdout)
    assert (d["verdict"], d["pattern"]) == ("leak", "step"), d["evidence"]
    assert 50 <= d["growth_bytes_per_s"] * 60 / 2**20 <= 60, d["evidence"]


def test_a_no_leaks_growth_is_the_narrower_measurement_where_the_two_disagree() -> None:
    """node_churn_slow_leak_7min.jsonl (~420 B kept per request at 20 req/s: 0.48 MiB/min under a 2 MB JSON churn):
    no-leak, as its 7 minutes allow, but its growth was the floor test's least-squares line through one early
    excursion (115-140 MiB for 45 s over a 100 MiB floor), "-1.8 MiB/min (-3.4 MiB/min to -0.3 MiB/min)": a floor
    falling beyond doubt. The Theil-Sen trend over the window minima, which one excursion does not tilt, has the
    narrower band and holds the program's rate."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_churn_slow_leak_7min.jsonl"), "--json",
                             check_code=None).stdout)
    assert d["verdict"] == "no-leak", d["evidence"]
    low, high = d["growth_interval_bytes_per_s"]
    assert low <= 420 * 20 <= high, (low, high, d["evidence"])
    assert any("disagree: the narrower band" in line for line in d["evidence"]), d["evidence"]


def test_the_floor_test_is_quoted_with_the_numbers_it_printed() -> None:
    """py_flask_dict_leak_210s: "floor test: the floor rises 20.1 MiB/min +/- 45.8 KiB/min" stood above "the floor
    test's line (19.1 MiB/min +/- 170.9 KiB/min) and the trend over window minima (20.4 MiB/min) disagree": the second
    was its last 40 %'s rate, quoted as its line (a helper's review, 2026-12-08)."""
    import re

    d = json.loads(memdoctor("analyze", str(SHAPES / "py_flask_dict_leak_210s.jsonl"), "--json").stdout)
    printed = [re.search(r"floor test: the floor rises ([^ ]+ [^ ]+) \+/- ([^ ]+ [^ ]+)", e) for e in d["evidence"]]
    line = next(m.groups() for m in printed if m)
    for e in d["evidence"]:
        quoted = re.search(r"the floor test's line \(([^ ]+ [^ ]+) \+/- ([^ ]+ [^ ]+)\)", e)
        if quoted:
            assert quoted.groups() == line, (line, e)


def test_a_decided_no_leak_asks_for_a_longer_watch_only_where_its_evidence_says_why() -> None:
    """node_lru_cache_cap_ok_4min: an lru-cache filling for 105 s, then level, read "no-leak (0.88)" beside "watch
    longer 51s", nothing in its evidence asking for it (the floor test's levelling off carried an estimate of how long
    a 5 MiB/min leak would take to show). A helper's review, 2026-12-08."""
    d = json.loads(memdoctor("analyze", str(SHAPES / "node_lru_cache_cap_ok_4min.jsonl"), "--json").stdout)
    assert d["verdict"] == "no-leak" and d["watch_more_s"] is None, d
