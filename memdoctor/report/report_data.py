"""The ranked leak report as plain data: the trace diagnosis joined with the heap diff rows.

`build_report` is pure (numbers in, a JSON-ready dict out); every renderer (terminal, Markdown,
HTML, JSON) formats this one dict, so the four formats cannot disagree. Suspects are ranked by how
soon each one alone would exhaust the headroom (limit minus current memory) at its measured growth
rate; beside each one are the caps of `memdoctor.analysis.caps` with their arithmetic.

Heap string values never enter this dict: a diff row's `key` and `where` hold type, property,
variable and module names only (the heap engines' contract), and nothing else of the heap is read.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memdoctor.analysis import Diagnosis, HeapGrowth
    from memdoctor.heap.model import DiffResult

REPORT_VERSION = 1
# Row fields copied from a diff row into a suspect (all names or numbers, never heap values).
_ROW_FIELDS = ("key", "where", "kind", "count_before", "count_after", "bytes_before", "bytes_after",
               "bytes_growth", "count_growth", "bytes_per_min", "entries_per_min", "bytes_per_entry",
               "count_middle", "bytes_middle")


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _rate_per_s(row: dict[str, Any], interval_s: float | None) -> float | None:
    per_min = _finite(row.get("bytes_per_min"))
    if per_min is not None:
        return per_min / 60.0
    if interval_s and interval_s > 0:
        return row["bytes_growth"] / interval_s
    return None


def _suspect_caps(row: dict[str, Any], runtime: str, limit_bytes: int, baseline_bytes: int,
                  budget_share: float) -> dict[str, Any]:
    from memdoctor.analysis import caps
    from memdoctor.heap.v8.retainers import LISTENERS_LABEL

    per_entry = _finite(row.get("bytes_per_entry"))
    if row.get("kind") != "container" or not per_entry or per_entry <= 0:
        return {}
    arrivals = _finite(row.get("entries_per_min"))
    # An emitter's listeners (the V8 retainer path's label): their fix is to remove them, not a cache's bound.
    listeners = runtime == "node" and str(row.get("key") or "").endswith(f"({LISTENERS_LABEL})")
    try:
        return caps.container_caps(limit_bytes, baseline_bytes, per_entry,
                                   arrivals / 60.0 if arrivals and arrivals > 0 else None, runtime, budget_share,
                                   listeners=listeners)
    except ValueError as exc:
        return {"note": str(exc)}


def heap_growth(diff: DiffResult) -> list[HeapGrowth]:
    """What the diff says grows, as the diagnosis takes it: containers, their rate over the snapshots and
    in how many intervals they grew (a row of a three-snapshot diff grew in both; of two, in one)."""
    from memdoctor.analysis import HeapGrowth

    out = []
    for row in diff.rows:
        if row.kind != "container" or row.bytes_growth <= 0:
            continue
        rate = _rate_per_s(row.to_dict(), diff.interval_s)
        if rate is None:
            continue
        out.append(HeapGrowth(name=row.key or row.where, bytes_per_s=rate,
                              intervals=2 if row.bytes_middle is not None else 1))
    return out


def build_report(*, diagnosis: Diagnosis | None, trace_info: dict[str, Any] | None = None,
                 diff: DiffResult | None = None, limit_bytes: int | None = None,
                 outside_heap: dict[str, Any] | None = None, budget_share: float = 0.25,
                 top: int = 10, heap_bytes: float | None = None,
                 allocation_sites: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The report dict. `trace_info` holds the trace's name, runtime and last/peak memory; `heap_bytes` the
    heap at the first snapshot (the rows must explain a meaningful share of it to be suspects)."""
    from memdoctor.analysis import caps
    from memdoctor.analysis import suspects as suspect_rows

    info = dict(trace_info or {})
    runtime = info.get("runtime") or (diff.runtime if diff is not None else None)
    limit = limit_bytes or (diagnosis.limit_bytes if diagnosis else None) or (diff.limit_bytes if diff else None)
    current = None
    if diagnosis is not None:
        current = _finite(diagnosis.last_bytes) or _finite(diagnosis.floor_end_bytes)
    if current is None:
        current = _finite(info.get("current_bytes"))
    # The idle memory the caps divide the limit by: the trace's (caps.trace_baseline, as `caps --trace` and the
    # concurrency take it), or the RSS at the first snapshot (as `diff` takes it), else the floor's start.
    baseline = _finite(info.get("baseline_bytes"))
    if baseline is None and diagnosis is not None:
        baseline = _finite(diagnosis.floor_start_bytes)
    if baseline is None:
        baseline = 0.0
    headroom = (limit - current) if (limit and current is not None) else None
    report: dict[str, Any] = {
        "memdoctor_report": REPORT_VERSION,
        "trace": info or None,
        "runtime": runtime,
        "limit_bytes": int(limit) if limit else None,
        "current_bytes": int(current) if current is not None else None,
        "baseline_bytes": int(baseline),
        "headroom_bytes": int(headroom) if headroom is not None else None,
        "diagnosis": diagnosis.to_dict() if diagnosis is not None else None,
        "outside_heap": outside_heap,
        "heap": None,
        "suspects": [],
        "caps": {},
        "notes": [],
    }
    if diff is not None:
        report["heap"] = {"runtime": diff.runtime, "snapshots": [str(s) for s in diff.snapshots],
                          "interval_s": diff.interval_s, "notes": list(diff.notes)}
        suspects = []
        for row in diff.rows:
            d = row.to_dict()
            if d["bytes_growth"] <= 0:
                continue
            suspect = {k: d.get(k) for k in _ROW_FIELDS}
            suspect["engine_suggested_cap"] = d.get("suggested_cap")
            rate = _rate_per_s(d, diff.interval_s)
            suspect["growth_bytes_per_s"] = rate
            if headroom is not None and rate and rate > 0:
                suspect["time_to_exhaust_s"] = max(0.0, headroom) / rate
            else:
                suspect["time_to_exhaust_s"] = None
            if limit:
                suspect["caps"] = _suspect_caps(d, diff.runtime, int(limit), int(min(baseline, limit - 1)),
                                                budget_share)
            suspects.append(suspect)
        # Only rows that explain a meaningful share of the growth are suspects (analysis/suspects.py).
        leak = diagnosis is not None and diagnosis.verdict == "leak"
        grown = None
        if leak and diff.interval_s and diagnosis is not None and math.isfinite(diagnosis.growth_bytes_per_s):
            grown = diagnosis.growth_bytes_per_s * diff.interval_s  # the memory's growth over the snapshots
        chosen = suspect_rows.select(suspects, heap_bytes=heap_bytes, trace_says_leak=leak, memory_growth_bytes=grown)
        suspects = chosen.kept
        report["notes"].extend(chosen.notes)
        # Soonest exhaustion first; rows without a rate after, by bytes.
        suspects.sort(key=lambda s: (s["time_to_exhaust_s"] is None, s["time_to_exhaust_s"] or 0.0,
                                     -s["bytes_growth"]))
        for rank, suspect in enumerate(suspects[:top], start=1):
            suspect["rank"] = rank
        report["suspects"] = suspects[:top]
        # Where the objects still alive were allocated, beside what grows: with no suspect, the sampled sites are
        # the runtime's own churn (a Node worker pool under doctor: 32 KiB of http internals beside "nothing
        # significant grows in the heap"), below the bar every diff row was held to.
        if allocation_sites and report["suspects"]:
            report["heap"]["allocation_sites"] = [dict(site) for site in allocation_sites[:top]]
    elif diagnosis is not None and diagnosis.verdict == "leak":
        report["notes"].append("no heap snapshots: the trace says memory leaks, not what holds it; take them with "
                               "`memdoctor run --heap-every 60s` or `memdoctor snapshot PID --count 3`, or let "
                               "`memdoctor doctor` take them when it sees the leak")
    if limit and runtime == "node":
        non_heap = _finite((outside_heap or {}).get("non_heap_bytes"))
        try:
            flag = caps.max_old_space_size_mb(int(limit), int(non_heap) if non_heap else None)
            report["caps"]["max_old_space_size_mb"] = flag.value
            report["caps"].setdefault("explain", {})["max_old_space_size_mb"] = flag.explain
        except ValueError as exc:
            report["notes"].append(f"no --max-old-space-size: {exc}")
    if outside_heap and outside_heap.get("outside_heap"):
        report["notes"].append(outside_heap["advice"])
    if outside_heap and outside_heap.get("fds_growing"):
        report["notes"].append(outside_heap["advice_fds"])
    return report


def add_concurrency(report: dict[str, Any], t: Any, rss: Any, *, diffed: bool, warmup_s: float = 0.0) -> None:
    """The trace's concurrency cap into the report, with its arithmetic: the one computation `caps --trace`
    prints too (analysis.caps.concurrency_from_trace). Nothing when the trace gives none (no limit, a leak
    whose heap snapshots were not diffed or name what grows, no job steps, rises not known to be jobs):
    `caps --trace` says why; a report of a server would only repeat that it runs no jobs."""
    from memdoctor.analysis import caps

    diagnosis = report.get("diagnosis") or {}
    jobs = caps.concurrency_from_trace(t, rss, report.get("limit_bytes"), verdict=diagnosis.get("verdict", ""),
                                      pattern=diagnosis.get("pattern", ""), warmup_s=warmup_s,
                                      heap_named_nothing=diffed and not report.get("suspects"))
    if jobs.value is None:
        if jobs.explain["why"] == "no_headroom":
            from memdoctor.units import format_bytes

            inputs = jobs.explain["inputs"]
            report.setdefault("notes", []).append(
                f"no concurrency cap: the baseline ({format_bytes(inputs['baseline_bytes'])}) is at or above the "
                f"limit ({format_bytes(inputs['limit_bytes'])})")
        return
    report.setdefault("caps", {})["concurrency"] = jobs.value
    report["caps"].setdefault("explain", {})["concurrency"] = jobs.explain
