"""Short texts shared by the report renderers (one wording for terminal, Markdown and HTML)."""

from __future__ import annotations

from typing import Any

from memdoctor.units import format_bytes, format_duration, format_rate, format_rate_range, format_until


def caps_text(caps: dict[str, Any] | None) -> list[str]:
    """The caps of one suspect with their arithmetic, one line each."""
    if not caps:
        return []
    if "note" in caps and "max_entries" not in caps:
        return [f"no cap: {caps['note']}"]
    lines = []
    explain = caps.get("explain", {})
    if "max_entries" in caps:
        e = explain["max_entries"]
        b = e["budget"]["inputs"]
        lines.append(f"max entries {caps['max_entries']} = floor(({format_bytes(b['limit_bytes'])} - "
                     f"{format_bytes(b['baseline_bytes'])}) x {b['budget_share']} / "
                     f"{format_bytes(e['inputs']['bytes_per_entry'])} per entry)")
    if "python" in caps:
        lines.append(f"  {caps['python']['deque']} or {caps['python']['lru_cache']}")
    if "node" in caps and "listeners" in caps["node"]:
        lines.append(f"  fix: {caps['node']['listeners']}")
    elif "node" in caps:
        lines.append(f"  {caps['node']['lru-cache']} (npm lru-cache), or before each set: {caps['node']['map']}")
    if "ttl_s" in caps:
        e = explain["ttl_s"]["inputs"]
        lines.append(f"max age {format_duration(caps['ttl_s'])} = {format_bytes(e['budget_bytes'])} / "
                     f"({e['arrival_rate_per_s'] * 60:.0f} entries/min x {format_bytes(e['bytes_per_entry'])})"
                     " (Little's law)")
    return lines


def allocation_sites_text(report: dict[str, Any], top: int = 5) -> list[str]:
    """Where the objects alive at the last snapshot were allocated since the first (Node: V8's sampling heap
    profiler between them): code locations and byte counts only, never a value."""
    sites = [s for s in ((report.get("heap") or {}).get("allocation_sites") or []) if isinstance(s, dict)]
    if not sites:
        return []
    # V8's sampling heap profiler attributes each sample to a call frame: a function and where it is defined, not the
    # line that allocated ("(anonymous) node_listener.js:11" for an allocation on its line 12: a helper's review).
    lines = ["allocated since the first snapshot and still alive at the last, by the function that allocated it "
             "(sampled; where the function is defined):"]
    for site in sites[:top]:
        lines.append(f"  {format_bytes(site.get('bytes')):>10}  {site.get('function', '?')} "
                     f"{site.get('file', '?')}:{site.get('line', '?')}")
    return lines


def cautious_concurrency_text(explain: dict[str, Any]) -> str:
    """The concurrency if the largest step were one job (caps.concurrency's explanation), for `report` and `caps`."""
    cautious = explain["if_the_largest_step_is_one_job"]
    return (f"or {cautious['concurrency']} if the largest step ({format_bytes(cautious['per_job_bytes'])}) is one job "
            "(jobs of different sizes)")


def global_caps_text(caps: dict[str, Any]) -> list[str]:
    lines = []
    if "concurrency" in caps:
        e = caps["explain"]["concurrency"]
        i = e["inputs"]
        cautious = e.get("if_the_largest_step_is_one_job")
        per_job = e.get("per_job") or {}
        if cautious:
            jobs = per_job.get("jobs_per_step") or []
            whole = per_job.get("whole_job_steps")
            basis = (f"one job's step ({whole + ' steps are' if whole else 'the steps are'} whole multiples of it: "
                     f"{'/'.join(map(str, jobs))} jobs started together)")
        else:
            basis = "the largest step" if per_job else "as given"
        lines.append(f"concurrency {caps['concurrency']} = floor(({format_bytes(i['limit_bytes'])} - "
                     f"{format_bytes(i['baseline_bytes'])}) x {1 - i['margin']:.2f} / "
                     f"{format_bytes(i['per_job_bytes'])} per job: {basis})")
        if cautious:
            lines.append("  " + cautious_concurrency_text(e))
    if "max_old_space_size_mb" in caps:
        e = caps["explain"]["max_old_space_size_mb"]
        lines.append(f"node --max-old-space-size={caps['max_old_space_size_mb']}  = {e['formula']} with "
                     + ", ".join(f"{k}={format_bytes(v) if k.endswith('_bytes') else v}"
                                 for k, v in e["inputs"].items()))
    return lines


def verdict_text(d: dict[str, Any] | None) -> str:
    if not d:
        return "no trace"
    low, high = d.get("growth_interval_bytes_per_s") or (None, None)
    growth = format_rate_range(d["growth_bytes_per_s"], low, high)
    text = f"{d['verdict']} ({d['pattern']}), floor growth {growth}"
    if d.get("time_to_limit_s") is not None:
        text += f", limit in {format_duration(d['time_to_limit_s'])}"
    if d.get("verdict") == "inconclusive" and d.get("watch_more_s"):
        text += f"; watch about {format_duration(d['watch_more_s'])} more to decide"
    return text


def memory_text(report: dict[str, Any]) -> str | None:
    """"LIMIT, now CURRENT, headroom HEADROOM", when the report knows a limit."""
    if not report.get("limit_bytes"):
        return None
    return (f"{format_bytes(report['limit_bytes'])}, now {format_bytes(report.get('current_bytes'))}, "
            f"headroom {format_bytes(report.get('headroom_bytes'))}")


def time_to_limit_text(d: dict[str, Any] | None) -> str | None:
    """"TIME (LOW to HIGH)", when the diagnosis has a time to the limit with its range (HIGH null: never)."""
    if not (d and d.get("time_to_limit_s") is not None and d.get("time_to_limit_range_s")
            and d["time_to_limit_range_s"][0] is not None):
        return None
    low, high = d["time_to_limit_range_s"]
    return f"{format_duration(d['time_to_limit_s'])} ({format_duration(low)} to {format_until(high)})"


def suspect_cells(s: dict[str, Any]) -> dict[str, str]:
    return {
        "rank": str(s.get("rank", "")),
        "key": s["key"],
        "where": s.get("where") or "",
        "growth": f"+{format_bytes(s['bytes_growth'])}",
        "rate": format_rate(s.get("growth_bytes_per_s")),
        "entries": f"{s.get('count_before')} -> {s.get('count_after')}",
        "per_entry": format_bytes(s.get("bytes_per_entry")) if s.get("bytes_per_entry") else "",
        "exhausts": format_duration(s.get("time_to_exhaust_s")),
    }
