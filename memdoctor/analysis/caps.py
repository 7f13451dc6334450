"""Suggested caps, each with its arithmetic: pure functions over plain numbers and arrays.

Every function returns a `Cap`: the suggested value and an `explain` dict holding the formula
(as text) and the inputs it used, so a report can print the arithmetic beside the number and a
reader can redo it by hand. Sizes are bytes and times seconds, as everywhere inside memdoctor.

The incidents these replace: "512 MB - 50 MB base = 462 MB; / 85 MB per job = concurrency 5",
`--max-old-space-size=450` for a 512 MB box, a dead-letter queue cut from 500 to 50, SSE clients
kept 10 minutes at most, a record array capped at 7500.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

MIB = 1024 * 1024

# Safety margin kept free of the computed budget. 5% is what the incident arithmetic implied
# (462 MB / 85 MB = 5.4 -> 5 jobs); a larger margin is a choice the user makes with --margin.
DEFAULT_MARGIN = 0.05
# Share of the headroom (limit - baseline) that one collection may take.
DEFAULT_BUDGET_SHARE = 0.25
# Node: share of the container limit that is not the V8 old space (code, stacks, young generation,
# Buffers, native modules). 12% of 512 MB leaves 450 MB, the incident's own flag.
DEFAULT_NON_HEAP_SHARE = 0.12


class Cap(NamedTuple):
    """A suggested value and how it was computed."""

    value: Any
    explain: dict[str, Any]


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, not {value!r}")


def _check_share(name: str, value: float, *, allow_zero: bool = True) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and low_ok and value < 1):
        raise ValueError(f"{name} must be in [0, 1), not {value!r}")


def headroom(limit_bytes: int, baseline_bytes: int) -> Cap:
    """Memory left for the work once the process's idle baseline is paid."""
    _check_positive("limit", limit_bytes)
    if baseline_bytes < 0 or baseline_bytes >= limit_bytes:
        raise ValueError(f"baseline ({baseline_bytes} B) must be below the limit ({limit_bytes} B)")
    return Cap(int(limit_bytes - baseline_bytes),
               {"formula": "limit - baseline", "inputs": {"limit_bytes": int(limit_bytes),
                                                          "baseline_bytes": int(baseline_bytes)}})


def concurrency(limit_bytes: int, baseline_bytes: int, per_job_bytes: int, margin: float = DEFAULT_MARGIN,
                job_quantum_bytes: int | None = None) -> Cap:
    """Jobs that can run at once: floor((limit - baseline) * (1 - margin) / per_job), at least 1.

    512 MB, 50 MB baseline, 85 MB per job, 5% margin: floor(462 * 0.95 / 85) = floor(5.16) = 5.
    `per_job_bytes` is a job's peak as given, or a job trace's largest step. `job_quantum_bytes`
    (step_heights: most steps are whole numbers of one job's step) is one job's peak: a step of 2 or 3
    jobs is jobs started together, which is what a concurrency counts, so the cap divides by one job
    (the worker-pool incident: 40 MB jobs in waves of 1-3, floor(467 MB x 0.95 / 40 MiB) = 11; the largest
    step as one job gave 3). What the largest step as one job would allow stays in the explanation,
    the cautious figure should the jobs differ in size after all.
    """
    _check_positive("per-job peak", per_job_bytes)
    _check_share("margin", margin)
    room = headroom(limit_bytes, baseline_bytes).value
    one_job = job_quantum_bytes is not None and 0 < job_quantum_bytes < per_job_bytes
    per_job = int(job_quantum_bytes) if one_job and job_quantum_bytes is not None else int(per_job_bytes)
    exact = room * (1 - margin) / per_job
    value = max(1, math.floor(exact))
    explain: dict[str, Any] = {
        "formula": "floor((limit - baseline) * (1 - margin) / per_job)",
        "inputs": {"limit_bytes": int(limit_bytes), "baseline_bytes": int(baseline_bytes),
                   "per_job_bytes": per_job, "margin": margin},
        "exact": round(exact, 3),
    }
    if exact < 1:
        explain["note"] = "even one job does not fit in the headroom: raise the limit or shrink the job"
    if one_job:
        explain["per_job_is"] = "one job's step: the steps are whole numbers of it"
        cautious = room * (1 - margin) / per_job_bytes
        explain["if_the_largest_step_is_one_job"] = {"per_job_bytes": int(per_job_bytes),
                                                     "concurrency": max(1, math.floor(cautious)),
                                                     "exact": round(cautious, 3)}
    return Cap(value, explain)


def collection_budget(limit_bytes: int, baseline_bytes: int, budget_share: float = DEFAULT_BUDGET_SHARE) -> Cap:
    """Bytes one collection may hold: (limit - baseline) * share."""
    _check_share("budget share", budget_share, allow_zero=False)
    room = headroom(limit_bytes, baseline_bytes).value
    return Cap(int(room * budget_share),
               {"formula": "(limit - baseline) * budget_share",
                "inputs": {"limit_bytes": int(limit_bytes), "baseline_bytes": int(baseline_bytes),
                           "budget_share": budget_share}})


def max_entries(budget_bytes: int, bytes_per_entry: float) -> Cap:
    """Entries of a collection (Map, dict, list, queue) that fit in the budget: floor(budget / bytes_per_entry)."""
    _check_positive("budget", budget_bytes)
    _check_positive("bytes per entry", bytes_per_entry)
    value = math.floor(budget_bytes / bytes_per_entry)
    explain: dict[str, Any] = {"formula": "floor(budget / bytes_per_entry)",
                               "inputs": {"budget_bytes": int(budget_bytes), "bytes_per_entry": bytes_per_entry}}
    if value < 1:
        explain["note"] = "one entry is larger than the budget"
    return Cap(max(0, value), explain)


def ttl(budget_bytes: int, arrival_rate_per_s: float, bytes_per_entry: float) -> Cap:
    """Longest time an entry may live so that steady-state memory stays within the budget.

    Little's law: entries held = arrival rate x time in the system, so memory = rate x TTL x size
    and TTL = budget / (rate x size).
    """
    _check_positive("budget", budget_bytes)
    _check_positive("arrival rate", arrival_rate_per_s)
    _check_positive("bytes per entry", bytes_per_entry)
    seconds = budget_bytes / (arrival_rate_per_s * bytes_per_entry)
    return Cap(round(seconds, 3),
               {"formula": "budget / (arrival_rate * bytes_per_entry)  (Little's law: L = lambda * W)",
                "inputs": {"budget_bytes": int(budget_bytes), "arrival_rate_per_s": arrival_rate_per_s,
                           "bytes_per_entry": bytes_per_entry},
                "steady_state_entries": math.floor(arrival_rate_per_s * seconds)})


def max_old_space_size_mb(limit_bytes: int, non_heap_bytes: int | None = None,
                          non_heap_share: float = DEFAULT_NON_HEAP_SHARE) -> Cap:
    """Node's --max-old-space-size (MiB): the limit minus what is not the V8 old space.

    `non_heap_bytes` is the measured RSS minus heap (Buffers, code, stacks, young generation);
    without it, `non_heap_share` of the limit is assumed (12% of 512 MB leaves 450).
    """
    _check_positive("limit", limit_bytes)
    if non_heap_bytes is None:
        _check_share("non-heap share", non_heap_share)
        reserve = limit_bytes * non_heap_share
        formula = "floor(limit * (1 - non_heap_share) / MiB)"
        inputs: dict[str, Any] = {"limit_bytes": int(limit_bytes), "non_heap_share": non_heap_share}
    else:
        if non_heap_bytes < 0 or non_heap_bytes >= limit_bytes:
            raise ValueError(f"non-heap memory ({non_heap_bytes} B) must be below the limit ({limit_bytes} B)")
        reserve = float(non_heap_bytes)
        formula = "floor((limit - non_heap) / MiB)"
        inputs = {"limit_bytes": int(limit_bytes), "non_heap_bytes": int(non_heap_bytes)}
    value = math.floor((limit_bytes - reserve) / MIB)
    return Cap(value, {"formula": formula, "inputs": inputs,
                       "flag": f"node --max-old-space-size={value}"})


def container_caps(limit_bytes: int, baseline_bytes: int, bytes_per_entry: float,
                   arrival_rate_per_s: float | None = None, runtime: str | None = None,
                   budget_share: float = DEFAULT_BUDGET_SHARE, listeners: bool = False) -> dict[str, Any]:
    """The caps of one growing container, the one computation behind `diff`, `report` and `caps`:
    max entries = floor((limit - baseline) * budget_share / bytes_per_entry), and with an arrival
    rate the TTL of Little's law over the same budget. Each command states its own inputs (the
    limit, and its baseline: a trace's floor, or the RSS at the first snapshot, before its capture).
    Raises ValueError when the numbers leave no budget (baseline at or above the limit).

    `listeners`: the container is an event emitter's array of listeners (V8's `_events`), which no size bound or
    age fixes: every on() adds a handler that only off() removes. Its fix is said instead of a cache's, and no
    TTL is given (a helper's review, 2026-12-08: "new LRUCache({ max: 4295443 })" and "max age 11h59m" for an
    express app adding a listener per request)."""
    # Whole bytes: a diff's bytes per entry is a mean (1234.5), `caps --bytes-per-entry` reads bytes;
    # rounding here makes the same inputs give the same cap in every command.
    _check_positive("bytes per entry", bytes_per_entry)
    bytes_per_entry = max(1, round(bytes_per_entry))
    budget = collection_budget(limit_bytes, baseline_bytes, budget_share)
    entries = max_entries(budget.value, bytes_per_entry)
    out: dict[str, Any] = {"max_entries": entries.value}
    explain: dict[str, Any] = {"max_entries": {**entries.explain, "budget": budget.explain}}
    if runtime == "python":
        out["python"] = python_bounds(entries.value)
    elif runtime == "node":
        out["node"] = node_listener_fix() if listeners else node_bounds(entries.value)
    if arrival_rate_per_s is not None and arrival_rate_per_s > 0 and not listeners:
        life = ttl(budget.value, arrival_rate_per_s, bytes_per_entry)
        out["ttl_s"] = life.value
        explain["ttl_s"] = {**life.explain, "budget": budget.explain}
    out["explain"] = explain
    return out


def node_bounds(entries: int) -> dict[str, str]:
    """The Node.js spellings of an entry cap (a Map has no size bound of its own)."""
    n = max(1, int(entries))
    return {"lru-cache": f"new LRUCache({{ max: {n} }})",
            "map": f"if (map.size >= {n}) map.delete(map.keys().next().value)"}


def node_listener_fix() -> dict[str, str]:
    """What stops an emitter's listeners from growing: removing each handler when its work is done."""
    return {"listeners": "remove each handler when its work is done: emitter.off(event, handler), or add it with "
                         "emitter.once(event, handler); every on() adds one that only off() removes "
                         "(emitter.listenerCount(event) shows them)"}


def python_bounds(entries: int) -> dict[str, str]:
    """The Python spellings of an entry cap."""
    n = max(1, int(entries))
    return {"lru_cache": f"functools.lru_cache(maxsize={n})", "deque": f"collections.deque(maxlen={n})"}


def step_heights(t: np.ndarray, mem: np.ndarray, min_step_share: float = 0.05) -> Cap:
    """Per-job peaks from a job trace: the heights of the upward steps (each job's working set).

    A rise is a run of consecutive increases; rises smaller than `min_step_share` of the series'
    range are noise. The suggestion is the largest step (the job to budget for); the baseline is the
    series' 5th percentile (the memory with no job running).
    """
    mem = np.asarray(mem, dtype=float)
    if mem.shape[0] < 3:
        raise ValueError("a job trace needs at least 3 samples")
    span = float(np.nanmax(mem) - np.nanmin(mem))
    diffs = np.diff(mem)
    rises: list[tuple[float, int, int]] = []  # (height, index of its start, index of its top)
    run, start = 0.0, 0
    for i, d in enumerate(diffs):
        if d > 0:
            if run == 0:
                start = i
            run += float(d)
        else:
            if run > 0:
                rises.append((run, start, i))
            run = 0.0
    if run > 0:
        rises.append((run, start, len(diffs)))
    threshold = span * min_step_share
    kept = [rise for rise in rises if rise[0] > threshold and rise[0] > 0]
    steps = [height for height, _, _ in kept]
    baseline = float(np.nanpercentile(mem, 5))
    if not steps:
        # The bar a rise missed, for a caller that says why there is no per-job peak.
        return Cap(None, {"formula": "max(upward step heights)", "inputs": {"samples": int(mem.shape[0])},
                          "baseline_bytes": int(baseline), "note": "no job-sized step in the trace",
                          "range_bytes": int(span), "min_step_share": min_step_share,
                          "min_step_bytes": int(threshold)})
    explain: dict[str, Any] = {
        "formula": "max(upward step heights above min_step_share * range)",
        "inputs": {"samples": int(mem.shape[0]), "min_step_share": min_step_share},
        "steps": len(steps), "median_step_bytes": int(float(np.median(steps))),
        "heights_bytes": [int(h) for h in steps[:100]],
        "baseline_bytes": int(baseline),
    }
    tt = np.asarray(t, dtype=float)
    explain["interval_s"] = round(float(np.median(np.diff(tt))), 3)  # a job is seen held over two samples
    held = [_held(mem, begin, top, height, threshold) for height, begin, top in kept]
    explain["held_steps"] = sum(1 for h in held if h)
    explain["decided_steps"] = sum(1 for h in held if h is not None)  # rises not still up when the trace ends
    quantum = _job_quantum(steps)
    if quantum is not None:
        jobs = _whole_jobs(np.asarray(steps, dtype=float), quantum)
        explain["job_quantum_bytes"] = int(quantum)
        explain["jobs_per_step"] = sorted({int(n) for n in jobs if n})
        explain["whole_job_steps"] = f"{int((jobs > 0).sum())} of {len(steps)}"
    return Cap(int(max(steps)), explain)


# A step is a whole number of identical jobs started together when it lies within this share of a job of a
# whole number of jobs. One job's own step varies less than half of that: the Node worker-pool incident's
# single-job steps spread 41.3-43.2 MB (+/- 2 %), the Python one's are equal to the byte.
STEP_MULTIPLE_TOLERANCE = 0.2
# The single-job steps: those under one and a half times the smallest step (two jobs make twice one).
SINGLE_JOB_SPREAD = 1.5
# One job's step is named only when more than this share of the steps are whole multiples of it (most of
# them): a rise can also merge a job's start with a partial free of another's memory, or a start-up ramp
# (the Node worker pool under doctor: 24.2, 51.1 and 54.9 MB beside five steps of 1 or 2 jobs of 42 MB).
MIN_WHOLE_SHARE = 0.5
# ... and at least this many steps are: a height falls within STEP_MULTIPLE_TOLERANCE of a whole number of
# jobs by chance ~40 % of the time (2 x 0.2 of each job's width), five at once ~1 % (0.4^5). Two steps of 85
# and 40 MB (2.1 and 1 jobs of 40) are no evidence that a job is 40 MB; the cap then takes the largest step.
MIN_WHOLE_STEPS = 5
# ... and one job's step recurs: at least this many steps are exactly one job. A quantum seen once is a
# partial rise (a GC ramp cut by a sample, a start-up's last piece), and every step of the same height
# is then "two jobs" of half of it: the bundled healthy Node server's 29 GC ramps of ~31 MB read as
# 2 x 16.8 MB from one 16.8 MB rise, "concurrency 27". Waves of 1, 2, 3 jobs have many of one.
MIN_SINGLE_JOB_STEPS = 2


def _held(mem: np.ndarray, start: int, top: int, height: float, bar: float) -> bool | None:
    """Whether a rise is a job's: its memory is held at the top, then freed. A job keeps its working set while
    it runs: the memory stays within `bar` of the top (the bar a rise must clear) for at least one more
    sample and at least as many samples as it took to climb there, until the job ends or another starts; and a job
    ends: later the memory falls at least half the rise below the top. A GC ramp is freed at its top (it
    climbs for its whole cycle and falls at once); a cache filling in steps is held and never freed. None
    for a rise still at its top when the trace ends: the recording stopped before it could tell."""
    level = mem[top]
    for k in range(top + 1, len(mem)):
        if abs(mem[k] - level) > bar:
            # Counted in samples, not seconds: at a steady interval the same, and 0.1 s of hold is not "shorter"
            # than 0.1 s of climb by a float's last bit (a live pool at 50 ms lost 2 of its 8 jobs that way).
            held = k - 1 > top and k - 1 - top >= top - start
            return bool(held and np.any(mem[k:] <= level - height / 2))
    return None


def _whole_jobs(heights: np.ndarray, quantum: float) -> np.ndarray:
    """How many jobs of `quantum` each step is, 0 where it is not within STEP_MULTIPLE_TOLERANCE of a whole number."""
    jobs = np.round(heights / quantum)
    return np.where((np.abs(heights / quantum - jobs) <= STEP_MULTIPLE_TOLERANCE) & (jobs >= 1), jobs, 0.0)


def _job_quantum(steps: list[float]) -> float | None:
    """One job's step when most steps are a whole number of it (at least one step of 2 or more): jobs
    started in waves make steps of 1, 2, 3 jobs. None when the heights are not such multiples (jobs of
    different sizes: then the largest step is the only safe per-job peak). Two candidates for one job:
    the steps near the smallest (waves of one job exist), and the steps near the median (a trace whose
    smallest rise is a start-up ramp or a partial one)."""
    heights = np.asarray(steps, dtype=float)
    median = float(np.median(heights))
    candidates = [heights[heights <= SINGLE_JOB_SPREAD * heights.min()],
                  heights[np.abs(heights / median - 1) <= STEP_MULTIPLE_TOLERANCE] if median > 0 else heights[:0]]
    best: tuple[int, float] | None = None
    for near in candidates:
        if not len(near):
            continue
        quantum = float(np.median(near))
        if quantum <= 0:
            continue
        jobs = _whole_jobs(heights, quantum)
        count = int((jobs > 0).sum())
        if count <= MIN_WHOLE_SHARE * len(heights) or count < MIN_WHOLE_STEPS or jobs.max() < 2 \
                or int((jobs == 1).sum()) < MIN_SINGLE_JOB_STEPS:
            continue
        if best is None or count > best[0]:
            best = (count, quantum)
    return best[1] if best else None


# Rises held and freed as a job's are the evidence of jobs when at least this share of the rises the trace
# decided (not still up at its end) are, and at least MIN_SINGLE_JOB_STEPS (a job recurs). Whether a GC
# ramp's top looks held depends on where the samples fall, about as often as not at coarse sampling (a Node
# LRU fill sampled at 200 ms under a V8 sawtooth: 12 of 23 before the freed condition), so a bare majority
# is chance; two in three is not. Measured (held and freed / decided): real job pools 8/8-9/9 at 20 ms-1 s
# with 1.5-3 s jobs, the worker-pool incident 19/28; GC sawtooths and fills at most 19/70 (a Node server at
# 800 req/s, 10 ms) and 10/23 (that LRU fill); a cache filling in 20 MB steps 0/7.
MIN_HELD_SHARE = 2 / 3
# RSS moves in whole pages (4 KiB on x86-64 and most arm64 kernels): a rise under one is a recorder's rounding,
# no memory a job was given (a fuzzed trace of 2- and 4-byte rises read "concurrency 255013678").
PAGE_BYTES = 4096


def _after_startup(t: Any, mem: Any, warmup_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The finite samples after the start-up: the warm-up given, else from the first sample that does not rise (a
    process loading its code is neither a job nor its idle memory)."""
    t = np.asarray(t, dtype=float)
    mem = np.asarray(mem, dtype=float)
    keep = np.isfinite(mem)
    t, mem = t[keep], mem[keep]
    if warmup_s > 0 and len(t):
        rest = t >= t[0] + warmup_s
        if int(rest.sum()) >= 3:
            t, mem = t[rest], mem[rest]
    elif len(mem) >= 3:
        falls = np.flatnonzero(np.diff(mem) <= 0)
        if len(falls) and len(mem) - falls[0] >= 3:
            t, mem = t[falls[0]:], mem[falls[0]:]
    return t, mem


def trace_baseline(t: Any, mem: Any, warmup_s: float = 0.0) -> int | None:
    """The idle memory of a traced process, the one baseline every cap from a trace divides the limit by (the
    concurrency, and a container's max entries in `report` and `caps --trace`): the 5th percentile after the
    start-up (step_heights). `report` took the floor line's start and `caps --trace` this, so one trace's container
    got 1581 and 1570 entries (an end-to-end review, 2026-12-06). None with fewer than 3 samples."""
    t, mem = _after_startup(t, mem, warmup_s)
    return int(step_heights(t, mem).explain["baseline_bytes"]) if len(mem) >= 3 else None


def concurrency_from_trace(t: np.ndarray, mem: np.ndarray, limit_bytes: int | None, *, verdict: str, pattern: str,
                           warmup_s: float = 0.0, heap_named_nothing: bool = False,
                           margin: float = DEFAULT_MARGIN, baseline_bytes: int | None = None) -> Cap:
    """The one concurrency a trace gives, whichever command prints it (`caps --trace`, `report`, `doctor`).

    The value is None when the trace gives none; then `explain` says why ("why": no_limit, no_headroom (the
    baseline at or above the limit), leak, no_steps, not_jobs), holds the formula and the inputs it has, and
    what the rises would give were they jobs ("too_few_samples": fewer than 3 samples after the start-up).
    The baseline is `baseline_bytes` when given, else the trace's (step_heights: its 5th percentile after
    the start-up).
    Rules, in order:
    - a limit is needed (every cap divides the memory left under one);
    - a leak's rises are memory kept, no job that ends: no concurrency, unless heap snapshots were diffed
      and named nothing that grows (`heap_named_nothing`: a pool whose freed jobs the runtime returns late
      climbs like a leak for seconds);
    - the start-up (the warm-up given, else the first rise from the first sample: a process loading its
      code is no job) is left out, so neither its height nor its level is a job's;
    - the rises are jobs when the diagnosis saw steps, or when MIN_HELD_SHARE are held at their top and then
      freed (`_held`: a job keeps its working set while it runs, then ends; a GC ramp is freed at its top:
      every GC ramp is a rise, and the bundled healthy Node server's read "concurrency 11"). Whole
      multiples of one size are no such evidence (an allocator's pages are too: a healthy Node server's
      RSS rises of 1.25, 2.3 and 3.6 MiB read "1, 2, 3 jobs", concurrency 340); they say only which step
      is one job (`_job_quantum`).
    """
    t, mem = _after_startup(t, mem, warmup_s)
    formula = "floor((limit - baseline) * (1 - margin) / per_job)"
    if len(mem) < 3:
        # Too short for a step (step_heights needs a rise between two samples and the one after it); the verdict
        # is still printed (analyze reads such a trace inconclusive), so this is no error.
        given = {"baseline_bytes": int(baseline_bytes)} if baseline_bytes is not None else {}
        # Without a limit that is what every cap lacks first (the rules below ask for it first too).
        why, missing = ("too_few_samples", "per_job_bytes") if limit_bytes else ("no_limit", "limit_bytes")
        return Cap(None, {"formula": formula, "why": why, "missing": missing,
                          "inputs": {"samples": len(mem), **given}})
    steps = step_heights(t, mem)
    baseline = int(steps.explain["baseline_bytes"] if baseline_bytes is None else baseline_bytes)
    inputs: dict[str, Any] = {"baseline_bytes": baseline, "margin": margin}
    if limit_bytes:
        inputs = {"limit_bytes": int(limit_bytes), **inputs}

    def none(why: str) -> Cap:
        missing = "limit_bytes" if why == "no_limit" else "per_job_bytes"
        explain: dict[str, Any] = {"formula": formula, "inputs": inputs, "why": why, "missing": missing,
                                   "per_job": steps.explain}
        if why == "not_jobs" and steps.value and limit_bytes and baseline < limit_bytes:
            were = concurrency(limit_bytes, baseline, steps.value, margin, steps.explain.get("job_quantum_bytes"))
            explain["if_the_rises_are_jobs"] = were.value
            explain["if_the_rises_are_jobs_per_job_bytes"] = were.explain["inputs"]["per_job_bytes"]
        return Cap(None, explain)

    if not limit_bytes:
        return none("no_limit")
    if baseline >= limit_bytes:
        return none("no_headroom")
    if verdict == "leak" and not heap_named_nothing:
        return none("leak")
    if steps.value is None or steps.value < PAGE_BYTES:
        return none("no_steps")
    held = steps.explain["held_steps"]
    if pattern != "step" and (held < MIN_SINGLE_JOB_STEPS or held < MIN_HELD_SHARE * steps.explain["decided_steps"]):
        return none("not_jobs")
    cap = concurrency(limit_bytes, baseline, steps.value, margin, steps.explain.get("job_quantum_bytes"))
    return Cap(cap.value, {**cap.explain, "per_job": steps.explain})


def non_heap_peak(rss: np.ndarray, heap: np.ndarray) -> float | None:
    """The most memory a Node trace held outside the V8 heap (RSS minus heap, never below 0): the non-heap
    share `max_old_space_size_mb` leaves room for. None when no sample has both."""
    gap = np.asarray(rss, dtype=float) - np.asarray(heap, dtype=float)
    gap = gap[np.isfinite(gap)]
    return float(max(0.0, float(np.max(gap)))) if gap.size else None


def _slope_per_s(t: np.ndarray, y: np.ndarray, snapshot_times: np.ndarray | None = None) -> float:
    """The growth of a series as the one diagnosis measures it (its floor, not an OLS line through peaks)."""
    from memdoctor.analysis.engine import diagnose

    keep = np.isfinite(np.asarray(y, dtype=float))
    if keep.sum() < 3:
        return 0.0
    return float(diagnose(np.asarray(t, dtype=float)[keep], np.asarray(y, dtype=float)[keep],
                          snapshot_times=snapshot_times).growth_bytes_per_s)


def growth_outside_heap(t: np.ndarray, rss: np.ndarray, heap: np.ndarray | None = None,
                        fds: np.ndarray | None = None, *, leaking: bool = True,
                        snapshot_times: np.ndarray | None = None) -> dict[str, Any]:
    """Where the growth is: in the runtime heap, or outside it (Buffers, sockets, native memory).

    When RSS leaks (`leaking`: the one diagnosis' verdict) and the heap does not grow, a heap cap would not
    help: say so. A growth the diagnosis does not call a leak is nowhere to look for ("a heap cap will not
    stop it" stood beside "no-leak" for a Node service whose RSS floor moved 0.3 MiB/min). A growing count
    of file descriptors (sockets) is reported beside it. Both growths up to memdoctor's first heap snapshot
    (`snapshot_times`, as the diagnosis judges): a V8 snapshot's own ~90 MiB in RSS read "grows outside the heap".
    """
    out: dict[str, Any] = {"rss_bytes_per_s": _slope_per_s(t, rss, snapshot_times)}
    if heap is not None and np.isfinite(np.asarray(heap, dtype=float)).sum() >= 3:
        heap_rate = _slope_per_s(t, heap, snapshot_times)
        out["heap_bytes_per_s"] = heap_rate
        rss_rate = out["rss_bytes_per_s"]
        out["outside_heap"] = bool(leaking and rss_rate > 0 and heap_rate < 0.25 * rss_rate)
        out["outside_heap_bytes_per_s"] = rss_rate - heap_rate
    if fds is not None and np.isfinite(np.asarray(fds, dtype=float)).sum() >= 3:
        tt = np.asarray(t, dtype=float)
        f = np.asarray(fds, dtype=float)
        # Skip start-up (the first 10% of the time): a runtime opens its own descriptors then.
        settled = np.isfinite(f) & (tt >= tt[0] + 0.1 * (tt[-1] - tt[0]))
        fin = f[settled] if settled.sum() >= 2 else f[np.isfinite(f)]
        out["fds_per_s"] = _slope_per_s(tt[settled], f[settled]) if settled.sum() >= 3 else 0.0
        out["fds_first"], out["fds_last"] = int(fin[0]), int(fin[-1])
        out["fds_growing"] = bool(fin[-1] - fin[0] >= 10 and out["fds_per_s"] > 0)
    if out.get("outside_heap"):
        out["advice"] = ("memory grows outside the runtime heap (Buffers/ArrayBuffers, sockets, native "
                         "allocations): a heap cap will not stop it; find what holds the native memory")
    if out.get("fds_growing"):
        out["advice_fds"] = (f"file descriptors grow ({out['fds_first']} -> {out['fds_last']}): sockets or "
                             "files are opened and never closed (recreate or close HTTP clients)")
    return out
