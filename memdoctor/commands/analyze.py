"""`memdoctor analyze`: classify the memory growth in a recorded trace."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated

import typer

from memdoctor.commands.common import CommandSpec, handle_errors
from memdoctor.traces.errors import TraceReadError
from memdoctor.units import parse_size

HELP = """Classify the memory growth in a trace: leak / no-leak / inconclusive, the shape (stable,
plateau, sawtooth, linear, step, exponential), the growth of the memory floor and the time until
the limit. Reads memdoctor JSONL traces and CSV/TSV files with a time and a memory column.
Exit code 0 whatever is found; 2 when the input cannot be read.

Examples:

  memdoctor analyze app.jsonl

  memdoctor analyze metrics.csv --limit 512MB --json

  cat trace.jsonl | memdoctor analyze -
"""


@handle_errors
def analyze_command(
    path: Annotated[str, typer.Argument(help="Trace file (JSONL or CSV); - for stdin.", show_default=False)],
    limit: Annotated[str | None, typer.Option("--limit", help="Memory limit (512MB, 2GiB); default: the "
                                                              "trace's own.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Input format (jsonl, csv); default: detected "
                                                             "from the content.")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Series to analyse: rss (tree total), rss_root, pss, "
                                                         "uss, heap.")] = "rss",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    # Imported here: `memdoctor analyze big.csv` must not pay for what other commands use.
    from memdoctor.analysis import diagnose
    from memdoctor.traces.reader import read_trace

    limit_bytes = parse_size(limit) if limit is not None else None
    trace = read_trace(path, fmt)
    try:
        series = trace.metric(metric)
    except KeyError as exc:
        raise TraceReadError(str(exc.args[0])) from None
    t = trace.t
    keep = ~(series != series)  # drop NaN (samples where an optional series was not read)
    if not keep.all():
        t, series = t[keep], series[keep]
    if len(t) == 0:
        raise TraceReadError(f"{path} has no sample of the {metric!r} series")
    restarts = trace.event_times("restart", "oom_kill")
    diagnosis = diagnose(t, series, limit_bytes=limit_bytes or trace.limit_bytes,
                         restart_times=restarts if len(restarts) else None, skipped_rows=trace.skipped_rows)
    if trace.samples_read != diagnosis.samples:
        diagnosis = replace(diagnosis, samples=trace.samples_read)
    if trace.warnings:
        diagnosis = replace(diagnosis, evidence=[*diagnosis.evidence, *trace.warnings])
    if json_out:
        print(json.dumps(diagnosis.to_dict(), indent=2))
    else:
        from memdoctor.report.console import stdout_console
        from memdoctor.report.terminal import print_diagnosis

        print_diagnosis(stdout_console(), diagnosis, title=path)
    raise typer.Exit(0)


COMMAND = CommandSpec("analyze", analyze_command, HELP, order=30)
