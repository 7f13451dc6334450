"""`memdoctor caps`: computed limits (concurrency, entry caps, TTLs, Node heap flag) with their arithmetic."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from memdoctor.commands.common import CommandSpec, fail, handle_errors
from memdoctor.units import parse_duration, parse_size

HELP = """Compute caps from the memory budget, each with the formula and the inputs used: how many jobs
may run at once, how many entries a Map/dict/queue may hold, how long an entry may live (Little's
law), and Node's --max-old-space-size. Give the numbers, or a trace (--trace) whose step heights are
taken as per-job peaks and whose minimum is the baseline. Sizes: 512MB, 1.5GiB (1024-based).

Suggestions computed (one key each in --json, beside an "explain" object):
  concurrency             with --per-job (or a job --trace): floor((limit - baseline) * (1 - margin) / per_job)
  max_entries             with --bytes-per-entry: floor((limit - baseline) * budget_share / bytes_per_entry)
  ttl_s                   with --arrival-rate and --bytes-per-entry: budget / (rate * bytes_per_entry)
  max_old_space_size_mb   with --node, --non-heap or --non-heap-share: floor((limit - non_heap) / MiB)

With --trace, the trace's verdict comes first (as analyze gives it for the same --metric, --warmup and
--limit). A trace without job steps (a server's recording: memory level, a GC sawtooth too small to be
jobs, or one climb) still prints it, with the caps its limit and baseline allow and a line saying that
the concurrency needs job steps: record the trace while jobs run, or give --per-job.

Exit code 0 (with --trace, also when it has no job steps); 2 on bad input, or when no question is asked
(no --trace and nothing to compute).

Examples:

  memdoctor caps --limit 512MB --baseline 50MB --per-job 85MB

  memdoctor caps --limit 512MB --node --json

  memdoctor caps --limit 1GiB --baseline 120MB --bytes-per-entry 24KB --arrival-rate 2/s

  memdoctor caps --trace jobs.jsonl --limit 512MB --json
"""


def _parse_count_rate(text: str) -> float:
    """"2/s", "120/min", "0.5" (per second) -> entries per second."""
    from memdoctor.units import UnitError

    raw = text.strip()
    if "/" in raw:
        count, per = raw.split("/", 1)
        per = per.strip()
        seconds = parse_duration(per if per[:1].isdigit() else "1" + per)
    else:
        count, seconds = raw, 1.0
    try:
        value = float(count)
    except ValueError:
        raise UnitError(f"cannot read rate {text!r}: use entries per time, e.g. 2/s or 120/min") from None
    if seconds <= 0 or not value > 0:
        raise UnitError(f"rate {text!r} must be a positive count per positive time")
    return value / seconds


def compute_caps(*, limit_bytes: int, baseline_bytes: int, per_job_bytes: int | None, margin: float,
                 bytes_per_entry: float | None, budget_share: float, arrival_rate: float | None,
                 node: bool, non_heap_bytes: int | None, non_heap_share: float | None,
                 trace_notes: dict[str, Any] | None = None, per_job_from_trace: bool = False) -> dict[str, Any]:
    """The caps JSON object (docs/architecture.md contract) from already parsed numbers."""
    from memdoctor.analysis import caps

    out: dict[str, Any] = {}
    explain: dict[str, Any] = {}
    if per_job_bytes is not None:
        # One job's step from the trace applies to the trace's own per-job peak, never to a --per-job given.
        quantum = ((trace_notes or {}).get("per_job") or {}).get("job_quantum_bytes") if per_job_from_trace else None
        cap = caps.concurrency(limit_bytes, baseline_bytes, per_job_bytes, margin, job_quantum_bytes=quantum)
        out["concurrency"], explain["concurrency"] = cap.value, cap.explain
        if trace_notes and "per_job" in trace_notes:
            explain["concurrency"]["per_job_from_trace"] = trace_notes["per_job"]
    if bytes_per_entry is not None:
        # The same computation as a diff row's and a report suspect's cap (analysis.caps.container_caps).
        runtime = "node" if node or non_heap_bytes is not None or non_heap_share is not None else "python"
        found = caps.container_caps(limit_bytes, baseline_bytes, bytes_per_entry, arrival_rate, runtime,
                                    budget_share)
        out["max_entries"] = found["max_entries"]
        explain["max_entries"] = {**found["explain"]["max_entries"], runtime: found[runtime]}
        if "ttl_s" in found:
            out["ttl_s"] = found["ttl_s"]
            explain["ttl_s"] = found["explain"]["ttl_s"]
    if node or non_heap_bytes is not None or non_heap_share is not None:
        kwargs: dict[str, Any] = {}
        if non_heap_share is not None:
            kwargs["non_heap_share"] = non_heap_share
        flag = caps.max_old_space_size_mb(limit_bytes, non_heap_bytes, **kwargs)
        out["max_old_space_size_mb"], explain["max_old_space_size_mb"] = flag.value, flag.explain
    out["limit_bytes"] = int(limit_bytes)
    out["baseline_bytes"] = int(baseline_bytes)
    out["explain"] = explain
    return out


def _from_trace(path: str, warmup_s: float = 0.0, metric: str = "rss",
                limit_bytes: int | None = None) -> tuple[int | None, dict[str, Any]]:
    """Limit, baseline, per-job peak and non-heap memory measured in a trace, and its one diagnosis."""
    import numpy as np

    from memdoctor.analysis import caps
    from memdoctor.commands.common import judge_worst_series

    # The verdict as `analyze --metric --warmup --limit` gives it: the limit given is the diagnosis' too (memory
    # above it has reached it; a restart near it is one), not only the caps'.
    trace, d, _ = judge_worst_series(path, metric, limit_bytes, warmup_s)
    if len(trace) < 3:
        from memdoctor.traces.errors import TraceReadError

        raise TraceReadError(f"{path}: a trace for caps needs at least 3 samples")
    t, rss = trace.t, trace.rss
    keep = t >= t[0] + warmup_s
    if keep.sum() >= 3:
        t, rss = t[keep], rss[keep]
    if not warmup_s:
        # The process's start-up ramp (the first rise, from the first sample) is not a job's working set.
        falls = np.flatnonzero(np.diff(rss) <= 0)
        if len(falls) and len(rss) - falls[0] >= 3:
            t, rss = t[falls[0]:], rss[falls[0]:]
    steps = caps.step_heights(t, rss)
    found: dict[str, Any] = {"baseline_bytes": steps.explain["baseline_bytes"],
                             "diagnosis": {"verdict": d.verdict, "pattern": d.pattern,
                                           "growth_bytes_per_s": d.growth_bytes_per_s,
                                           "time_to_limit_s": d.time_to_limit_s}}
    if steps.value is not None:
        found["per_job_bytes"] = steps.value
        found["per_job"] = {"source": path, **steps.explain}
    else:
        found["no_steps"] = {"source": path, **steps.explain}
    if "heap" in trace.series:
        gap = trace.rss - trace.series["heap"]
        gap = gap[np.isfinite(gap)]
        if gap.size:
            found["non_heap_bytes"] = int(max(0.0, float(np.max(gap))))
    found["runtime"] = trace.header.get("runtime")
    return trace.limit_bytes, found


@handle_errors
def caps_command(
    limit: Annotated[str | None, typer.Option("--limit", help="Memory limit of the box/container (512MB); "
                                                              "default: the trace's.")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Idle memory of the process (50MB); "
                                                                    "default: the trace's 5th percentile, "
                                                                    "else 0.")] = None,
    per_job: Annotated[str | None, typer.Option("--per-job", help="Peak memory of one job (85MB).")] = None,
    margin: Annotated[float, typer.Option("--margin", help="Share of the headroom kept free.")] = 0.05,
    bytes_per_entry: Annotated[str | None, typer.Option("--bytes-per-entry",
                                                        help="Measured size of one entry (24KB).")] = None,
    budget_share: Annotated[float, typer.Option("--budget-share", help="Share of the headroom one collection "
                                                                       "may take.")] = 0.25,
    arrival_rate: Annotated[str | None, typer.Option("--arrival-rate", help="New entries per time (2/s, "
                                                                            "120/min) for the TTL.")] = None,
    node: Annotated[bool, typer.Option("--node", help="Suggest Node's --max-old-space-size.")] = False,
    non_heap: Annotated[str | None, typer.Option("--non-heap", help="Node: measured RSS minus heap (60MB).")] = None,
    non_heap_share: Annotated[float | None, typer.Option("--non-heap-share", help="Node: share of the limit "
                                                                                  "outside the old space "
                                                                                  "(default 0.12).")] = None,
    trace: Annotated[str | None, typer.Option("--trace", help="Job trace: step heights are per-job peaks, "
                                                              "its minimum the baseline.")] = None,
    warmup: Annotated[str, typer.Option("--warmup", help="With --trace: do not take the first part (start-up) as "
                                                         "jobs, and judge the trace after it.")] = "0s",
    metric: Annotated[str, typer.Option("--metric", help="With --trace: the series whose verdict is printed beside "
                                                         "the caps, as analyze --metric judges it (rss, rss_root, "
                                                         "pss, uss, heap); the per-job steps are the trace's "
                                                         "RSS.")] = "rss",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    limit_bytes = parse_size(limit) if limit is not None else None
    baseline_bytes = parse_size(baseline) if baseline is not None else None
    per_job_bytes = parse_size(per_job) if per_job is not None else None
    non_heap_bytes = parse_size(non_heap) if non_heap is not None else None
    trace_notes: dict[str, Any] = {}
    per_job_from_trace = False
    if trace is not None:
        trace_limit, trace_notes = _from_trace(trace, parse_duration(warmup), metric, limit_bytes)
        limit_bytes = limit_bytes or trace_limit
        if baseline_bytes is None:
            baseline_bytes = trace_notes["baseline_bytes"]
        if per_job_bytes is None:
            per_job_bytes = trace_notes.get("per_job_bytes")
            per_job_from_trace = per_job_bytes is not None
        if non_heap_bytes is None and non_heap_share is None and trace_notes.get("runtime") == "node":
            non_heap_bytes = trace_notes.get("non_heap_bytes")
            node = node or non_heap_bytes is not None
    if limit_bytes is None:
        raise fail("give --limit (or a --trace that knows its limit)")
    if not 0 <= margin < 1 or not 0 < budget_share < 1:
        raise fail("--margin must be in [0, 1) and --budget-share in (0, 1)")
    if non_heap_share is not None and not 0 <= non_heap_share < 1:
        raise fail("--non-heap-share must be in [0, 1)")
    entry_bytes = float(parse_size(bytes_per_entry)) if bytes_per_entry is not None else None
    rate = _parse_count_rate(arrival_rate) if arrival_rate is not None else None
    if rate is not None and entry_bytes is None:
        raise fail("--arrival-rate needs --bytes-per-entry (the TTL depends on the size of an entry)")
    if per_job_bytes is None and entry_bytes is None and not node and non_heap_bytes is None \
            and non_heap_share is None and trace is None:
        raise fail("nothing to compute: give --per-job, --bytes-per-entry, --node/--non-heap, or a job --trace")
    if (entry_bytes is not None and entry_bytes <= 0) or per_job_bytes == 0:
        raise fail("--per-job and --bytes-per-entry must be larger than zero")
    try:
        result = compute_caps(limit_bytes=limit_bytes, baseline_bytes=baseline_bytes or 0,
                              per_job_bytes=per_job_bytes, margin=margin, bytes_per_entry=entry_bytes,
                              budget_share=budget_share, arrival_rate=rate, node=node,
                              non_heap_bytes=non_heap_bytes, non_heap_share=non_heap_share,
                              trace_notes=trace_notes, per_job_from_trace=per_job_from_trace)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if per_job_bytes is None and "no_steps" in trace_notes:
        # A job --trace asks for the concurrency: say it was not computed, and why, rather than leave it out.
        result = {"concurrency": None, **result}
        result["explain"]["concurrency"] = _concurrency_needs_steps(result, margin, trace_notes["no_steps"],
                                                                    trace_notes["diagnosis"]["pattern"])
    if "diagnosis" in trace_notes:
        result["diagnosis"] = trace_notes["diagnosis"]  # the trace's one diagnosis, as analyze prints it
    if json_out:
        print(json.dumps(result, indent=2))
        raise typer.Exit(0)
    from memdoctor.report.console import stdout_console

    console = stdout_console()
    if "diagnosis" in result:
        from memdoctor.report.report_text import verdict_text

        console.print(f"trace: {verdict_text(result['diagnosis'])}", highlight=False, markup=False)
    for line in render_caps_lines(result):
        console.print(line, highlight=False, markup=False)
    if result.get("concurrency", 0) is None and not {"max_entries", "max_old_space_size_mb"} & result.keys():
        console.print("other caps from this limit and baseline: --bytes-per-entry SIZE (max entries; with "
                      "--arrival-rate N/s, a TTL), --node (Node's --max-old-space-size)", highlight=False, markup=False)
    raise typer.Exit(0)


HOW_TO_RECORD_JOBS = ("record the trace while jobs run and finish (memdoctor run -o jobs.jsonl -- CMD, or "
                      "memdoctor watch PID -o jobs.jsonl during a batch), or give --per-job (one job's peak, "
                      "e.g. 85MB)")


def _concurrency_needs_steps(result: dict[str, Any], margin: float, no_steps: dict[str, Any],
                             pattern: str) -> dict[str, Any]:
    """The explain of a concurrency a job --trace could not give: its formula, the inputs it has, what it lacks."""
    from memdoctor.units import format_bytes

    if not no_steps["range_bytes"]:
        why = f"its memory held at {format_bytes(no_steps['baseline_bytes'])}"
    else:
        why = (f"no rise above {format_bytes(no_steps['min_step_bytes'])}, {no_steps['min_step_share']:.0%} of its "
               f"{format_bytes(no_steps['range_bytes'])} range")
        if pattern == "step":
            # The verdict line above says "step": the floor's steps, memory kept per job, many and each under the bar.
            why += "; the steps of the diagnosis are memory kept per job or batch, each under that bar"
    return {"formula": "floor((limit - baseline) * (1 - margin) / per_job)",
            "inputs": {"limit_bytes": result["limit_bytes"], "baseline_bytes": result["baseline_bytes"],
                       "margin": margin},
            "missing": "per_job_bytes",
            "note": f"needs job steps, and {no_steps['source']} has none ({why}): {HOW_TO_RECORD_JOBS}",
            "per_job_from_trace": no_steps}


def render_caps_lines(result: dict[str, Any]) -> list[str]:
    """Plain-text lines: each suggestion, its formula and its inputs."""
    from memdoctor.report.report_text import cautious_concurrency_text
    from memdoctor.units import format_bytes, format_duration

    lines: list[str] = []
    explain = result.get("explain", {})
    labels = {"concurrency": "concurrency", "max_entries": "max entries", "ttl_s": "TTL / max age",
              "max_old_space_size_mb": "--max-old-space-size"}
    for key, label in labels.items():
        if key not in result:
            continue
        value = result[key]
        info = explain.get(key, {})
        inputs = ", ".join(f"{name}={format_bytes(v) if name.endswith('_bytes') else v}"
                           for name, v in info.get("inputs", {}).items())
        if value is None:  # asked for (a job --trace) but not computed: what it needs, and how to get it
            lines.append(f"{label}: not computed: {info.get('note', 'missing input')}")
            lines.append(f"  = {info.get('formula', '')}, with {inputs}, {info.get('missing', '')}=?")
            continue
        shown = format_duration(value) if key == "ttl_s" else str(value)
        lines.append(f"{label}: {shown}")
        lines.append(f"  = {info.get('formula', '')}")
        lines.append(f"    with {inputs}")
        if "budget" in info:
            b = info["budget"]
            lines.append(f"    budget = {b['formula']} = {format_bytes(info['inputs']['budget_bytes'])}")
        if key == "max_entries" and "python" in info:
            lines.append(f"    Python: {info['python']['lru_cache']}, {info['python']['deque']}")
        if key == "max_entries" and "node" in info:
            lines.append(f"    Node.js: {info['node']['lru-cache']} (npm lru-cache), or before each set:")
            lines.append(f"      {info['node']['map']}")
        if key == "max_old_space_size_mb":
            lines.append(f"    {info['flag']}")
        if "per_job_is" in info:
            lines.append(f"    per job: {info['per_job_is']}; {cautious_concurrency_text(info)}")
        if "note" in info:
            lines.append(f"    note: {info['note']}")
    return lines


COMMAND = CommandSpec("caps", caps_command, HELP, order=75)
