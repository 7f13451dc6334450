"""Options shared by `run` and `watch`, and their translation into settings.

Only typer and the unit parsers are imported at module level: every command module is loaded
to build the CLI, so heavy imports (numpy, rich, the sampler) wait until a command runs.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated

import typer

from memdoctor.units import UnitError, parse_duration, parse_rate, parse_size

if TYPE_CHECKING:
    from memdoctor.pipelines.recording import CommonSettings, RecordingOutcome
    from memdoctor.sampling.limits import MemoryLimit

MIN_INTERVAL = 0.001

Interval = Annotated[str, typer.Option("--interval", "-i", help="Time between samples: 1s, 100ms, 0.01 (>= 1ms).")]
Duration = Annotated[str | None, typer.Option("--duration", "-d",
                                               help="Stop after this long (90s, 10m, 2h); default: until the target "
                                                    "exits or Ctrl-C.")]
Output = Annotated[str | None, typer.Option("--output", "-o",
                                             help="Trace file: JSON Lines (the memdoctor format), or CSV if it ends "
                                                  "in .csv.")]
Limit = Annotated[str | None, typer.Option("--limit", help="Memory limit to judge against (512MB, 2GiB); default: "
                                                            "the target's cgroup limit, else physical RAM.")]
DetailEvery = Annotated[str, typer.Option("--detail-every",
                                           help="Cadence of the slower numbers (PSS/USS/swap, fds, threads); "
                                                "0 turns them off.")]
Pss = Annotated[bool, typer.Option("--pss", help="Read PSS of the whole tree at every sample (shared pages counted "
                                                  "once; costs ~11us per MiB of RSS).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print only the result as JSON on stdout.")]
AlertOpt = Annotated[bool, typer.Option("--alert", help="Exit 1 as soon as a leak is established.")]
MaxGrowth = Annotated[str | None, typer.Option("--max-growth",
                                                help="Exit 1 as soon as the memory floor grows faster than this "
                                                     "(5MB/min, 100MB/h).")]
Warmup = Annotated[str, typer.Option("--warmup", help="Do not judge the first part of the recording (start-up, "
                                                     "cache fill): the verdict, the live view and alerts start "
                                                     "after it, as gate --warmup.")]
Metric = Annotated[str, typer.Option(
    "--metric", help="The series the live verdict, the alerts and the final verdict judge, as `analyze --metric` "
                     "judges it in the trace: rss (the tree's total), rss_root; pss, uss, swap every --detail-every; "
                     "heap (V8's used heap of a Node.js command memdoctor launches); with --cgroup: usage, anon, "
                     "cache, kernel.")]
SnapshotAt = Annotated[str | None, typer.Option("--snapshot-at", help="Take a heap snapshot of the largest Python "
                                                                     "or Node.js process as memory crosses these "
                                                                     "shares of the limit (70%,85%), so the evidence "
                                                                     "exists before an OOM kill.")]
ReportOpt = Annotated[str | None, typer.Option("--report", help="At the end, write the ranked leak report to this "
                                                                 "file (.html, .md, .json, else text); needs -o.")]
TargetOutputOpt = Annotated[str | None, typer.Option(
    "--target-output", metavar="inherit|quiet|FILE",
    help="Where the command's own stdout and stderr go: 'inherit' (the default; with --json the command's "
         "stdout goes to stderr, so stdout holds only memdoctor's JSON), 'quiet' (discarded), or a FILE "
         "(appended, created 0600).")]
NoChildren = Annotated[bool, typer.Option("--no-children", help="Sample the target process alone, not its "
                                                                "descendants.")]


def parse_common(interval: str, duration: str | None, detail_every: str, limit: str | None, alert: bool,
                 max_growth: str | None, warmup: str, metric: str = "rss", *, cgroup: bool = False,
                 pss: bool = False, heap: bool = False) -> CommonSettings:
    interval_s = parse_duration(interval)
    if interval_s < MIN_INTERVAL:
        raise UnitError(f"--interval {interval!r} is too small: use at least 1ms")
    duration_s = parse_duration(duration) if duration is not None else None
    if duration_s is not None and duration_s <= 0:
        raise UnitError(f"--duration {duration!r} must be longer than zero")
    detail_s = parse_duration(detail_every)
    limit_bytes = parse_size(limit) if limit is not None else None
    if limit_bytes is not None and limit_bytes <= 0:
        raise UnitError("--limit must be larger than zero")
    warmup_s = parse_duration(warmup)
    check_metric(metric, cgroup=cgroup, detail=detail_s > 0, pss=pss, heap=heap)
    rule = None
    if alert or max_growth is not None:
        from memdoctor.analysis.alerts import AlertRule

        rule = AlertRule(on_leak=alert, max_growth_bytes_per_s=parse_rate(max_growth) if max_growth else None,
                         min_time_s=warmup_s)
    from memdoctor.pipelines.recording import CommonSettings

    return CommonSettings(interval_s, duration_s, detail_s if detail_s > 0 else None, limit_bytes, rule, warmup_s,
                          metric)


def check_metric(metric: str, *, cgroup: bool = False, detail: bool = True, pss: bool = False,
                 heap: bool = False) -> None:
    """A --metric the recording will have: a sample's series, or a detail line's while they are read.
    `heap`: the recording gets V8's heap series (a command memdoctor launches that is not a Python one)."""
    from memdoctor.sampling.sources import CgroupSource, ProcessTreeSource

    source = CgroupSource if cgroup else ProcessTreeSource
    every_sample = (*source.SAMPLE_METRICS, *(("pss",) if pss else ()))
    if metric in every_sample:
        return
    if metric not in source.DETAIL_METRICS:
        names = ", ".join((*source.SAMPLE_METRICS, *source.DETAIL_METRICS))
        raise UnitError(f"--metric {metric!r}: {'a cgroup' if cgroup else 'a process tree'} is recorded as "
                        f"{names}")
    if not detail:
        raise UnitError(f"--metric {metric}: it is read on the detail lines, which --detail-every 0 turns off")
    if metric in source.HEAP_METRICS and not heap:
        raise UnitError(f"--metric {metric}: V8's heap is recorded for a Node.js command memdoctor launches "
                        "(run/gate/doctor -- node ...), not for a running PID or a Python command; "
                        "analyze --metric heap reads it from such a trace")


def live_mode(json_out: bool) -> str:
    from memdoctor.report.console import is_tty

    if json_out:
        return "off"
    return "tty" if is_tty() else "plain"


def effective_limit(discovered: MemoryLimit, override: int | None) -> tuple[MemoryLimit, bool]:
    from memdoctor.sampling.limits import with_override

    return with_override(discovered, override), override is not None


def open_writer(path: str | None):
    from memdoctor.traces.writer import open_trace_writer

    return open_trace_writer(path) if path else None


def check_report_option(report: str | None, output: str | None) -> None:
    if report and not output:
        from memdoctor.commands.common import fail

        raise fail("--report needs -o TRACE: the report is built from the trace and the snapshots beside it")


def write_report(report: str | None, output: str | None, limit_bytes: int | None, warmup_s: float = 0.0,
                 metric: str = "rss") -> None:
    """The ranked report after a recording; a failure is one line and never changes the exit code."""
    if not report or not output:
        return
    from memdoctor.commands.report import report_after_recording
    from memdoctor.report.console import stderr_console

    problem = report_after_recording(output, report, limit_bytes, warmup_s, metric)
    said = problem or f"report written to {os.path.abspath(report)}"  # before, a success said nothing of where
    stderr_console().print(f"memdoctor: {said}", markup=False, highlight=False)


def finish(outcome: RecordingOutcome, json_out: bool) -> int:
    """Print the outcome and return the exit code per the contract."""
    if json_out:
        print(json.dumps(outcome.to_dict(), indent=2))
    else:
        from memdoctor.report.console import stdout_console
        from memdoctor.report.terminal import print_outcome

        print_outcome(stdout_console(), outcome)
    if outcome.result.end_reason == "write-error" or outcome.result.write_error:
        return 2  # the trace asked for is incomplete (the diagnosis above is of every sample taken)
    if outcome.alert is not None:
        return 1
    return 0

