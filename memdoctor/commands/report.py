"""`memdoctor report`: one ranked leak report from a trace and heap snapshots, with caps and plots."""

from __future__ import annotations

import glob
import os
from typing import Annotated, Any

import typer

from memdoctor.commands.common import CommandSpec, fail, handle_errors, parse_limit
from memdoctor.units import parse_duration

FORMATS = ("terminal", "markdown", "html", "json")

HELP = """One ranked leak report: the trace's diagnosis (verdict, shape, floor growth, time to the limit)
joined with what grows in the heap snapshots (what, where, bytes per entry, growth rate), suspects
ranked by how soon each one would exhaust the headroom, and beside each one the caps that keep it
within budget, with their arithmetic. Snapshots recorded beside the trace (`memdoctor run
--heap-every`, Python or Node.js) are found on their own. Heap string values are never printed.

Formats: terminal (default, fits 100 columns), markdown (a PR comment), html (one self-contained
file with the plots embedded), json. --plots DIR also writes the plots as PNG files.
Exit code 0 whatever is found; 2 when an input cannot be read.

Examples:

  memdoctor report app.jsonl

  memdoctor report app.jsonl old.snap new.snap newer.snap --limit 512MB

  memdoctor report app.jsonl --format html -o report.html

  memdoctor report a.heapsnapshot b.heapsnapshot --format markdown
"""


def _split_inputs(paths: list[str]) -> tuple[str | None, list[str]]:
    """The one trace and the snapshots among the arguments (snapshots are told by their first bytes)."""
    from memdoctor.heap.detect import runtime_of_file
    from memdoctor.heap.runtimes import HeapError

    trace_path: str | None = None
    snapshots: list[str] = []
    for path in paths:
        if not os.path.exists(path) and path != "-":
            raise fail(f"{path}: no such file")
        try:
            is_snapshot = path != "-" and os.path.isfile(path) and bool(runtime_of_file(path))
        except HeapError:
            is_snapshot = False
        if is_snapshot:
            snapshots.append(path)
        elif trace_path is None:
            trace_path = path
        else:
            raise fail(f"two traces given ({trace_path}, {path}): give one trace and its heap snapshots")
    if trace_path is None and len(snapshots) == 1 and _is_memray_capture(snapshots[0]):
        # A memray capture alone is its recording's trace (its memory over time), as analyze, gate --trace, caps
        # and compare read it; `report leak.memray.bin` said "give at least two heap snapshots" (a review).
        return snapshots[0], []
    return trace_path, snapshots


def _is_memray_capture(path: str) -> bool:
    from memdoctor.heap.detect import is_memray_capture

    with open(path, "rb") as fh:
        return is_memray_capture(fh.read(64))


def _pick(snapshots: list[str]) -> list[str]:
    """First, middle and last of many snapshots (a diff takes two or three)."""
    if len(snapshots) <= 3:
        return snapshots
    return [snapshots[0], snapshots[len(snapshots) // 2], snapshots[-1]]


def _write(path: str, data: str | bytes, private: bool) -> None:
    from memdoctor.output_files import replace_output

    payload = data.encode("utf-8") if isinstance(data, str) else data
    # Whole or not at all, and never through a link another user could plant (memdoctor/output_files.py).
    replace_output(path, lambda fh: fh.write(payload), mode=0o600 if private else 0o644)


def build(trace_path: str | None, snapshot_paths: list[str], limit_bytes: int | None, top: int = 10,
          want_plots: bool = False, warmup_s: float = 0.0, metric: str = "rss",
          input_interval_s: float | None = None,
          forecast_within_s: float | None = None) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read the inputs and build the report dict (and the plots when asked). INPUT_INTERVAL_S: the time between
    samples of a trace without timestamps (`gate --trace -i` with --diagnose). FORECAST_WITHIN_S: the gate's
    --max-time-to-limit, so `gate --diagnose` reports the time to the limit the gate judged."""
    import numpy as np

    from memdoctor.analysis import caps
    from memdoctor.analysis.engine import SNAPSHOT_EVENT
    from memdoctor.report.report_data import build_report

    diagnosis = None
    trace = None
    trace_info: dict[str, Any] = {}
    outside: dict[str, Any] | None = None
    diff = None
    chosen: list[str] = []
    if snapshot_paths:
        from memdoctor.heap.detect import runtime_of_file
        from memdoctor.heap.runtimes import engine

        chosen = _pick(snapshot_paths)
        if len(chosen) < 2:
            other = (f"; {trace_path} is not a heap snapshot memdoctor can read (it was taken for the trace)"
                     if trace_path else "")
            raise fail(f"give at least two heap snapshots (OLD NEW [NEWER]) or none: one given{other}")
        runtimes = {runtime_of_file(p) for p in chosen}
        if len(runtimes) > 1:
            raise fail(f"the snapshots come from different runtimes ({', '.join(sorted(runtimes))})")
        diff = engine(runtimes.pop(), "diff").diff_snapshots(chosen, limit_bytes=limit_bytes, top=max(top, 10))
    if trace_path is not None:
        from memdoctor.commands.common import judge_worst_series
        from memdoctor.report.report_data import heap_growth

        # The snapshots' evidence is part of the one diagnosis: a report never heads "no-leak" above a
        # container that grew in every interval faster than the trace's floor can be growing. Not when they are
        # another process's (_other_process): the report says their growth is "not measured on this trace", and it
        # turned the trace's no-leak into "inconclusive ... the answer is not no-leak" (an end-to-end review).
        growth = heap_growth(diff) if diff is not None else ()
        trace, diagnosis, _ = judge_worst_series(
            trace_path, metric, limit_bytes, warmup_s,
            heap_growth=lambda read: growth if growth and _other_process(read, chosen) is None else (),
            input_interval_s=input_interval_s, forecast_within_s=forecast_within_s)
        trace_info = {"name": trace_path, "runtime": trace.header.get("runtime"), "samples": len(trace)}
        # The trace's idle memory for the caps: the one baseline `caps --trace` and the concurrency take.
        trace_info["baseline_bytes"] = caps.trace_baseline(trace.t, trace.rss, warmup_s)
        heap = trace.series.get("heap")
        fds = trace.series.get("fds")
        if heap is not None or fds is not None:
            snapshots = trace.event_times(SNAPSHOT_EVENT)
            outside = caps.growth_outside_heap(trace.t, trace.rss, heap, fds, leaking=diagnosis.verdict == "leak",
                                               snapshot_times=snapshots if len(snapshots) else None)
            if heap is not None:
                # Before memdoctor's first heap snapshot: the snapshotter's memory is no part of what the program
                # keeps outside its heap (a V8 snapshot's doubled the gap, and --max-old-space-size with it).
                before = trace.t < float(snapshots[0]) if len(snapshots) else np.ones(len(trace.t), dtype=bool)
                non_heap = caps.non_heap_peak(trace.rss[before], heap[before])
                if non_heap is not None:
                    outside["non_heap_bytes"] = non_heap
    elif diff is not None:
        trace_info, outside = _from_metas(chosen)
    report = build_report(diagnosis=diagnosis, trace_info=trace_info, diff=diff, limit_bytes=limit_bytes,
                          outside_heap=outside, top=top, heap_bytes=_heap_at_first(chosen) if diff else None,
                          allocation_sites=_allocation_sites(chosen) if diff else None)
    if trace_path is not None and trace_path != "-" and diff is None:
        _note_failed_snapshots(report, trace_path)
    if trace is not None and diff is not None:
        _note_other_process(report, trace, chosen)
    if trace is not None and len(trace) >= 3:
        from memdoctor.report.report_data import add_concurrency

        add_concurrency(report, trace.t, trace.rss, diffed=diff is not None, warmup_s=warmup_s)
    plots: dict[str, bytes] = {}
    if want_plots:
        from memdoctor.analysis.compare import floor_slope
        from memdoctor.report import plots as plotting

        if trace is not None and diagnosis is not None and len(trace) >= 2:
            plots["memory"] = plotting.memory_png(
                trace.t, trace.metric(metric), floor_t=np.asarray(diagnosis.floor_t),
                floor_m=np.asarray(diagnosis.floor_m), slope=floor_slope(diagnosis),
                limit_bytes=report["limit_bytes"], time_to_limit_s=diagnosis.time_to_limit_s if diagnosis else None,
                title=f"{os.path.basename(trace_path or '')}: {diagnosis.verdict if diagnosis else ''}")
            heights = ((report["caps"].get("explain") or {}).get("concurrency") or {}).get("per_job", {})
            if heights.get("heights_bytes"):
                plots["steps"] = plotting.steps_png(heights["heights_bytes"])
        if report["suspects"]:
            plots["diff"] = plotting.diff_bars_png(report["suspects"])
            plots["suspects"] = plotting.suspects_png(report["suspects"])
    return report, plots


def _allocation_sites(snapshots: list[str]) -> list[dict[str, Any]] | None:
    """Allocation sites the last snapshot's metadata holds (a Node series sampled between its snapshots)."""
    from memdoctor.heap.model import read_meta

    sites = read_meta(snapshots[-1]).get("allocation_sites") if snapshots else None
    return [s for s in sites if isinstance(s, dict)] if isinstance(sites, list) else None


def _heap_at_first(snapshots: list[str]) -> float | None:
    """The heap at the first snapshot from its metadata: Python objects' bytes, or V8's used heap."""
    from memdoctor.heap.model import read_meta

    meta = read_meta(snapshots[0]) if snapshots else {}
    for key in ("objects_bytes", "heap_used"):
        value = meta.get(key)
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return None


def _from_metas(snapshots: list[str]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Memory now, at the first snapshot, and (Node) outside the heap, from the snapshots' metadata files."""
    from memdoctor.heap.model import read_meta

    metas = [read_meta(p) for p in snapshots]
    rss = [m["rss"] for m in metas if isinstance(m.get("rss"), (int, float)) and m["rss"] > 0]
    info: dict[str, Any] = {"name": ", ".join(os.path.basename(p) for p in snapshots)}
    if metas and metas[0].get("runtime"):
        info["runtime"] = metas[0]["runtime"]
    if rss:
        info["current_bytes"], info["baseline_bytes"] = rss[-1], rss[0]
    gaps = [m["rss"] - m["heap_total"] for m in metas
            if isinstance(m.get("rss"), (int, float)) and isinstance(m.get("heap_total"), (int, float))]
    outside = {"non_heap_bytes": float(max(0, max(gaps)))} if gaps else None
    return info, outside


def _other_process(trace: Any, snapshots: list[str]) -> tuple[int, list[int]] | None:
    """(the trace's PID, the snapshots' PIDs) when the snapshots are of another process than the trace, else None."""
    from memdoctor.heap.model import read_meta

    traced = trace.header.get("pid") if isinstance(trace.header, dict) else None
    snapped = sorted({m["pid"] for m in map(read_meta, snapshots) if isinstance(m.get("pid"), int)})
    return (traced, snapped) if isinstance(traced, int) and snapped and snapped != [traced] else None


def _note_other_process(report: dict[str, Any], trace: Any, snapshots: list[str]) -> None:
    """A trace of one process and snapshots of another (a restart between them, or the wrong files)
    were joined without a word: say so, with both PIDs."""
    other = _other_process(trace, snapshots)
    if other is not None:
        traced, snapped = other
        report.setdefault("notes", []).insert(0, (
            f"the trace is of PID {traced}, the snapshots of PID {', '.join(map(str, snapped))}: the suspects' "
            "growth is another process's (or the same program after a restart), not measured on this trace"))


def _note_failed_snapshots(report: dict[str, Any], trace_path: str) -> None:
    """`run --heap-every` snapshots that failed inside the target: say so, and do not recommend
    the option that was used (its failures are in TRACE.heap.PID.NNN.snap.meta.json)."""
    from memdoctor.heap.python.launch import LaunchHeap

    heap = LaunchHeap(os.path.dirname(os.path.abspath(trace_path)), os.path.basename(trace_path) + ".heap", None)
    failed = heap.failures()
    if not failed:
        return
    path, error = failed[0]
    report["notes"] = [n for n in report["notes"] if "--heap-every" not in n]
    report["notes"].append(f"{len(failed)} heap snapshots taken by `run --heap-every` failed inside the target "
                           f"(first: {error}, {os.path.basename(path)}): no heap evidence from this recording")


def _trace_pid(trace_path: str) -> int | None:
    import json

    try:
        with open(trace_path, encoding="utf-8", errors="replace") as fh:
            header = json.loads(fh.readline(65536))
    except (OSError, ValueError):
        return None
    pid = header.get("pid") if isinstance(header, dict) else None
    return pid if isinstance(pid, int) else None


def _usable_beside(trace_path: str) -> tuple[list[str], str | None]:
    """The snapshots beside the trace, if they can be diffed; one alone is said, not refused: the
    report is then the trace's (before, one snapshot beside a trace made `report TRACE` exit 2)."""
    found = _beside_trace(trace_path)
    if len(found) == 1:
        return [], (f"one heap snapshot beside the trace ({os.path.basename(found[0])}): a diff needs at least two, "
                    "so this report is the trace's alone")
    return found, None


def _beside_trace(trace_path: str) -> list[str]:
    """Snapshots `run`/`watch --heap-every` wrote beside the trace (TRACE.heap.PID.NNN.snap or .heapsnapshot)
    for the trace's own PID.

    A re-recording to the same path leaves the older process's snapshots there: those are not this
    trace's (without a PID in the header, the newest process's are taken).
    """
    groups: dict[str, list[str]] = {}
    prefix = trace_path + ".heap."
    for ext in ("snap", "heapsnapshot"):  # Python (the agent) and Node.js (`--heap-every` through the inspector)
        for path in glob.glob(glob.escape(trace_path) + f".heap.*.{ext}"):
            groups.setdefault(path[len(prefix):].split(".", 1)[0], []).append(path)
    if not groups:
        return []
    pid = _trace_pid(trace_path)
    if pid is not None and str(pid) in groups:
        return sorted(groups[str(pid)])
    newest = max(groups.values(), key=lambda paths: max(os.path.getmtime(p) for p in paths))
    return sorted(newest)


def render(report: dict[str, Any], plots: dict[str, bytes], fmt: str) -> str:
    """The report in one of FORMATS as text (terminal: the 100-column layout without color)."""
    if fmt == "html":
        from memdoctor.report.report_html import render as render_html

        return render_html(report, plots)
    if fmt == "markdown":
        from memdoctor.report.report_markdown import render as render_md

        return render_md(report)
    if fmt == "json":
        from memdoctor.report.report_json import render as render_json

        return render_json(report)
    from memdoctor.report.report_terminal import render as render_terminal

    return render_terminal(report)


def format_for(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    return {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json"}.get(ext, "terminal")


def write_report(trace_path: str, report_path: str, limit_bytes: int | None = None, warmup_s: float = 0.0,
                 metric: str = "rss") -> None:
    """For `run --report FILE` / `watch --report FILE`: the report of a finished recording, format from FILE,
    judged as the recording judged it (its --warmup and --metric)."""
    fmt = format_for(report_path)
    snapshots, alone = _usable_beside(trace_path)
    report, plots = build(trace_path, snapshots, limit_bytes, want_plots=fmt == "html", warmup_s=warmup_s,
                          metric=metric)
    if alone:
        report.setdefault("notes", []).insert(0, alone)
    _write(report_path, render(report, plots, fmt), private=True)


def report_after_recording(trace_path: str | None, report_path: str, limit_bytes: int | None = None,
                           warmup_s: float = 0.0, metric: str = "rss") -> str | None:
    """`run --report FILE` / `watch --report FILE`: write the report; a failure is a message, never an exit.

    The recording already succeeded, so its exit code must not change because the report could not
    be written: the caller prints the returned message (None when all went well) as a warning.
    """
    if not trace_path:
        return "--report needs -o TRACE: the report is built from the trace file and the snapshots beside it"
    try:
        write_report(trace_path, report_path, limit_bytes, warmup_s, metric)
    except typer.Exit:
        return f"no report written to {report_path}"
    except Exception as exc:  # any failure here is reported; the recording stands
        return f"no report written to {report_path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None


@handle_errors
def report_command(
    paths: Annotated[list[str] | None, typer.Argument(help="[TRACE] [SNAPSHOTS...]: a trace and/or 2-3 heap "
                                                           "snapshots of the same process.", show_default=False)]
    = None,
    limit: Annotated[str | None, typer.Option("--limit", help="Memory limit (512MB); default: the trace's or "
                                                              "the snapshots' own.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="terminal, markdown, html or json; default: from -o's "
                                                      "extension, else terminal.")] = "",
    output: Annotated[str | None, typer.Option("-o", "--output", help="Write the report to this file.")] = None,
    plots_dir: Annotated[str | None, typer.Option("--plots", help="Also write the plots as PNG files here.")] = None,
    top: Annotated[int, typer.Option("--top", help="How many suspects to list.")] = 10,
    warmup: Annotated[str, typer.Option("--warmup", help="Do not judge the first part of the trace (start-up, "
                                                         "cache fill), as gate --warmup.")] = "0s",
    metric: Annotated[str, typer.Option("--metric", help="Series to judge: rss, rss_root, pss, uss, heap.")] = "rss",
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON (--format json), as every "
                                                          "command's --json.")] = False,
) -> None:
    if not paths:
        raise fail("give a trace and/or heap snapshots: memdoctor report [TRACE] [SNAPSHOTS...]")
    if json_out:
        if fmt and fmt.lower() != "json":
            raise fail(f"--json and --format {fmt} ask for two formats: give one")
        fmt = "json"
    if top < 1:
        raise fail("--top must be at least 1")
    if not fmt:
        fmt = format_for(output or "")
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    limit_bytes = parse_limit(limit)
    trace_path, snapshots = _split_inputs(paths)
    alone = None
    if trace_path is not None and not snapshots and trace_path != "-":
        snapshots, alone = _usable_beside(trace_path)
    report, plots = build(trace_path, snapshots, limit_bytes, top=top, want_plots=fmt == "html" or bool(plots_dir),
                          warmup_s=parse_duration(warmup), metric=metric)
    if alone:
        report.setdefault("notes", []).insert(0, alone)
    if plots_dir:
        from memdoctor.output_files import OutputPathError, output_dir

        try:
            output_dir(plots_dir)  # made (with the missing ones above it) never through a planted link
        except OutputPathError as exc:
            raise fail(f"--plots {plots_dir}: {exc.reason}") from None
        for name, png in plots.items():
            _write(os.path.join(plots_dir, f"{name}.png"), png, private=False)
    if fmt == "terminal" and output is None:
        from memdoctor.report.console import stdout_console
        from memdoctor.report.report_terminal import WIDTH, print_report

        console = stdout_console()
        console.width = min(console.width, WIDTH)
        print_report(console, report)
        raise typer.Exit(0)
    text = render(report, plots, fmt)
    if output:
        # Derived from heap snapshots: private like the snapshots themselves.
        _write(output, text, private=True)
        from memdoctor.report.console import stderr_console

        stderr_console().print(f"memdoctor: report written to {os.path.abspath(output)}", markup=False,
                               highlight=False)
    else:
        typer.echo(text, nl=False)
    raise typer.Exit(0)


COMMAND = CommandSpec("report", report_command, HELP, order=55)
