"""`memdoctor caps`: computed limits (concurrency, entry caps, TTLs, Node heap flag) with their arithmetic."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from memdoctor.commands.common import CommandSpec, fail, handle_errors, parse_limit
from memdoctor.units import parse_duration, parse_size

if TYPE_CHECKING:
    from memdoctor.analysis.caps import Cap

HELP = """Compute caps from the memory budget, each with the formula and the inputs used: how many jobs
may run at once, how many entries a Map/dict/queue may hold, how long an entry may live (Little's
law), and Node's --max-old-space-size. Give the numbers, or a trace (--trace) whose step heights are
taken as per-job peaks and whose minimum is the baseline. Sizes: 512MB, 1.5GiB (1024-based).

Suggestions computed (one key each in --json, beside an "explain" object):

\b
  concurrency             with --per-job (or a job --trace): floor((limit - baseline) * (1 - margin) / per_job)
  max_entries             with --bytes-per-entry: floor((limit - baseline) * budget_share / bytes_per_entry)
  ttl_s                   with --arrival-rate and --bytes-per-entry: budget / (rate * bytes_per_entry)
  max_old_space_size_mb   with --node, --non-heap or --non-heap-share: floor((limit - non_heap) / MiB)

With --trace, the trace's verdict comes first (as analyze gives it for the same --metric, --warmup and
--limit), then its concurrency: the one `report` and `doctor` print for that trace. The trace gives one
when its rises are jobs (the diagnosis saw steps, or two in three rises hold their memory and then free
it, as a job does), not when it leaks (memory kept is no job that ends) or its rises are a GC sawtooth's ramps; then a
line says why, what the rises would give were they jobs, and how to record jobs (or give --per-job).

Exit code 0 (with --trace, also when it gives no concurrency or records no limit: the verdict is printed
and the caps say what they need); 2 on bad input, or when no question is asked (no --trace and nothing to
compute).

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
                 node: bool, non_heap_bytes: int | None, non_heap_share: float | None) -> dict[str, Any]:
    """The caps JSON object (docs/architecture.md contract) from already parsed numbers."""
    from memdoctor.analysis import caps

    out: dict[str, Any] = {}
    explain: dict[str, Any] = {}
    if per_job_bytes is not None:
        cap = caps.concurrency(limit_bytes, baseline_bytes, per_job_bytes, margin)
        out["concurrency"], explain["concurrency"] = cap.value, cap.explain
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


class _TraceFacts:
    """What `caps --trace` takes from a trace: its one diagnosis (as analyze --metric --warmup --limit gives
    it: the limit given is the diagnosis' too), its limit, and the non-heap memory of a Node trace."""

    def __init__(self, path: str, warmup_s: float, metric: str, limit_bytes: int | None) -> None:
        from memdoctor.analysis import caps
        from memdoctor.commands.common import judge_worst_series

        self.warmup_s = warmup_s
        self.trace, self.diagnosis, _ = judge_worst_series(path, metric, limit_bytes, warmup_s)
        self.limit_bytes: int | None = self.trace.limit_bytes
        self.runtime = self.trace.header.get("runtime")
        self.non_heap_bytes: int | None = None
        if "heap" in self.trace.series:
            non_heap = caps.non_heap_peak(self.trace.rss, self.trace.series["heap"])
            self.non_heap_bytes = int(non_heap) if non_heap is not None else None

    def summary(self) -> dict[str, Any]:
        d = self.diagnosis
        return {"verdict": d.verdict, "pattern": d.pattern, "growth_bytes_per_s": d.growth_bytes_per_s,
                "time_to_limit_s": d.time_to_limit_s, "watch_more_s": d.watch_more_s,
                **{k: d.extras[k] for k in ("growth_interval_bytes_per_s",) if k in d.extras}}

    def concurrency(self, limit_bytes: int | None, baseline_bytes: int | None, margin: float) -> Cap:
        """The trace's concurrency: the one computation report and doctor print (caps.concurrency_from_trace)."""
        from memdoctor.analysis import caps

        return caps.concurrency_from_trace(self.trace.t, self.trace.rss, limit_bytes, verdict=self.diagnosis.verdict,
                                           pattern=self.diagnosis.pattern, warmup_s=self.warmup_s,
                                           margin=margin, baseline_bytes=baseline_bytes)


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
    limit_bytes = parse_limit(limit)
    baseline_bytes = parse_size(baseline) if baseline is not None else None
    per_job_bytes = parse_size(per_job) if per_job is not None else None
    non_heap_bytes = parse_size(non_heap) if non_heap is not None else None
    if not 0 <= margin < 1 or not 0 < budget_share < 1:
        raise fail("--margin must be in [0, 1) and --budget-share in (0, 1)")
    if non_heap_share is not None and not 0 <= non_heap_share < 1:
        raise fail("--non-heap-share must be in [0, 1)")
    entry_bytes = float(parse_size(bytes_per_entry)) if bytes_per_entry is not None else None
    rate = _parse_count_rate(arrival_rate) if arrival_rate is not None else None
    if rate is not None and entry_bytes is None:
        raise fail("--arrival-rate needs --bytes-per-entry (the TTL depends on the size of an entry)")
    if (entry_bytes is not None and entry_bytes <= 0) or per_job_bytes == 0:
        raise fail("--per-job and --bytes-per-entry must be larger than zero")
    facts = _TraceFacts(trace, parse_duration(warmup), metric, limit_bytes) if trace is not None else None
    if facts is not None:
        limit_bytes = limit_bytes or facts.limit_bytes
        if non_heap_bytes is None and non_heap_share is None and facts.runtime == "node":
            non_heap_bytes = facts.non_heap_bytes
            node = node or non_heap_bytes is not None
    elif limit_bytes is None:
        raise fail("give --limit (or a --trace that knows its limit)")
    elif per_job_bytes is None and entry_bytes is None and not node and non_heap_bytes is None \
            and non_heap_share is None:
        raise fail("nothing to compute: give --per-job, --bytes-per-entry, --node/--non-heap, or a job --trace")
    # The trace's concurrency is asked for unless --per-job is given; its baseline is the default either way.
    from_trace = facts.concurrency(limit_bytes, baseline_bytes, margin) if facts is not None else None
    if from_trace is not None and baseline_bytes is None:
        baseline_bytes = from_trace.explain["inputs"].get("baseline_bytes")  # none from fewer than 3 samples
    jobs = from_trace if per_job_bytes is None else None
    if limit_bytes is None:
        # A trace without a limit: its verdict, and that every cap divides the memory left under one.
        assert trace is not None and from_trace is not None
        explain = {**from_trace.explain, "note": _not_computed_note(from_trace.explain, trace)}
        result: dict[str, Any] = {"concurrency": None, "limit_bytes": None, "baseline_bytes": baseline_bytes,
                                  "explain": {"concurrency": explain}}
    else:
        try:
            result = compute_caps(limit_bytes=limit_bytes, baseline_bytes=baseline_bytes or 0,
                                  per_job_bytes=per_job_bytes, margin=margin, bytes_per_entry=entry_bytes,
                                  budget_share=budget_share, arrival_rate=rate, node=node,
                                  non_heap_bytes=non_heap_bytes, non_heap_share=non_heap_share)
        except ValueError as exc:
            raise fail(str(exc)) from None
        if jobs is not None:
            # A job --trace asks for the concurrency: the trace's one, or why there is none (never left out).
            explain = dict(jobs.explain)
            if jobs.value is None:
                explain["note"] = _not_computed_note(explain, trace or "")
            result = {"concurrency": jobs.value, **result}
            result["explain"] = {"concurrency": explain, **result["explain"]}
    if facts is not None:
        result["diagnosis"] = facts.summary()  # the trace's one diagnosis, as analyze prints it
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
    no_room = (result["explain"].get("concurrency") or {}).get("why") == "no_headroom"
    if result.get("limit_bytes") and result.get("concurrency", 0) is None and not no_room \
            and not {"max_entries", "max_old_space_size_mb"} & result.keys():
        console.print("other caps from this limit and baseline: --bytes-per-entry SIZE (max entries; with "
                      "--arrival-rate N/s, a TTL), --node (Node's --max-old-space-size)", highlight=False, markup=False)
    raise typer.Exit(0)


HOW_TO_RECORD_JOBS = ("record the trace while jobs run and finish (memdoctor run -o jobs.jsonl -- CMD, or "
                      "memdoctor watch PID -o jobs.jsonl during a batch), or give --per-job (one job's peak, "
                      "e.g. 85MB)")


def _not_computed_note(explain: dict[str, Any], source: str) -> str:
    """Why a --trace gave no concurrency (caps.concurrency_from_trace's "why"), and how to get one."""
    from memdoctor.units import format_bytes

    steps = explain.get("per_job") or {}
    would = explain.get("if_the_rises_are_jobs")
    per_job = explain.get("if_the_rises_are_jobs_per_job_bytes")
    if_jobs = f"; were the rises jobs ({format_bytes(per_job)} per job), the cap would be {would}" if would else ""
    interval = steps.get("interval_s")
    why = explain["why"]
    if why == "no_limit":
        return (f"every cap divides the memory left under a limit, and {source} records none: give --limit (the "
                f"container's memory limit, e.g. 512MB)")
    if why == "no_headroom":
        return (f"the baseline ({format_bytes(explain['inputs']['baseline_bytes'])}) is at or above the limit "
                f"({format_bytes(explain['inputs']['limit_bytes'])}): no memory is left for a job")
    if why == "too_few_samples":
        return (f"needs job steps, and {source} has {explain['inputs']['samples']} samples after its start-up "
                f"(a step needs at least 3): {HOW_TO_RECORD_JOBS}")
    if why == "leak":
        return (f"{source} leaks: its rises are memory kept, not jobs that end, and a concurrency caps nothing "
                f"that frees; cap the container that grows (memdoctor report TRACE SNAPSHOTS names it){if_jobs}")
    if why == "not_jobs":
        return (f"needs job steps, and the rises of {source} are not known to be jobs: the diagnosis saw no steps, "
                f"and fewer than two in three are held at their top and then freed, as a job's memory is (a GC "
                f"sawtooth's ramps are rises too, freed at their top){if_jobs}; or {HOW_TO_RECORD_JOBS}"
                + (f"; a job is seen held only over two samples: at this trace's {interval:g} s interval, jobs "
                   f"shorter than {2 * interval:g} s need a shorter --interval" if interval else ""))
    if not steps.get("range_bytes"):
        lack = f"its memory held at {format_bytes(steps.get('baseline_bytes', 0))}"
    else:
        lack = (f"no rise above {format_bytes(steps['min_step_bytes'])}, {steps['min_step_share']:.0%} of its "
                f"{format_bytes(steps['range_bytes'])} range")
    return f"needs job steps, and {source} has none ({lack}): {HOW_TO_RECORD_JOBS}"


def render_caps_lines(result: dict[str, Any]) -> list[str]:
    """Plain-text lines: each suggestion, its formula and its inputs."""
    from memdoctor.report.report_text import cautious_concurrency_text
    from memdoctor.units import format_bytes, format_duration

    lines: list[str] = []
    explain = result.get("explain", {})
    if result.get("limit_bytes") is None and "concurrency" in explain:
        # A --trace without a limit: no cap can be computed, whichever was asked for.
        return [f"caps: not computed: {explain['concurrency'].get('note', 'needs a limit')}"]
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
