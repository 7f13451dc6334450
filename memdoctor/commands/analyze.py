"""`memdoctor analyze`: classify the memory growth in recorded traces (one or many series)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from memdoctor.commands.common import CommandSpec, handle_errors, judge_trace, parse_limit
from memdoctor.traces.errors import TraceReadError
from memdoctor.units import parse_duration

FORMATS = "jsonl, csv, mprof, mprof-children, psrecord, memray, docker-stats, node-memory, prometheus"

HELP = f"""Classify the memory growth in a trace: leak / no-leak / inconclusive, the shape (stable,
plateau, sawtooth, linear, step, exponential), the growth of the memory floor and the time until
the limit. Reads memdoctor JSONL traces, CSV/TSV files with a time and a memory column, and other
tools' recordings: mprof .dat, psrecord logs, memray capture files, docker stats JSON, Node
process.memoryUsage() JSON lines and saved Prometheus query_range responses. The format is
detected from the content; --format overrides it ({FORMATS}).

Several files, or an input with several series (a Prometheus matrix, several containers, Node's
rss/heapUsed/external/arrayBuffers), give one row per series, worst first (leaks first, then the
soonest at its limit); --json then prints {{"series": [{{"name": ..., ...}}, ...]}}.
Exit code 0 whatever is found; 2 when an input cannot be read.

Examples:

  memdoctor analyze app.jsonl

  memdoctor analyze metrics.csv --limit 512MB --json

  memdoctor analyze mprofile_20261123.dat psrecord.log capture.bin

  memdoctor analyze query_range.json --limit 1GiB

  memdoctor analyze workers.dat --format mprof-children

  cat trace.jsonl | memdoctor analyze -
"""


@handle_errors
def analyze_command(
    paths: Annotated[list[str], typer.Argument(help="Trace files (any supported format); - for stdin.",
                                               show_default=False)],
    limit: Annotated[str | None, typer.Option("--limit", help="Memory limit (512MB, 2GiB); default: the "
                                                              "trace's own.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help=f"Input format ({FORMATS}); default: detected "
                                                             "from the content.")] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Series to analyse: rss (tree total), rss_root, "
                                                                "pss, uss, heap; Node: heap, external, "
                                                                "array_buffers.", show_default="rss")] = None,
    interval: Annotated[str | None, typer.Option("--interval", help="Time between samples of inputs without "
                                                                    "timestamps (docker stats lines); default "
                                                                    "1s.")] = None,
    warmup: Annotated[str, typer.Option("--warmup", help="Do not judge the first part of the trace (start-up, "
                                                         "cache fill), as gate --warmup.")] = "0s",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    # Imported here: `memdoctor analyze big.csv` must not pay for what other commands use.
    from memdoctor.traces.importers.multi import rows as make_rows
    from memdoctor.traces.reader import read_traces

    limit_bytes = parse_limit(limit)
    warmup_s = parse_duration(warmup)
    interval_s = parse_duration(interval) if interval is not None else None
    if interval_s is not None and interval_s <= 0:
        raise TraceReadError(f"--interval {interval!r} must be longer than zero")
    inputs = [(path, read_traces(path, fmt, interval_s=interval_s)) for path in paths]
    rows = make_rows(inputs, metric)
    if len(rows) == 1:
        diagnosis = judge_trace(rows[0].trace, rows[0].metric, paths[0], limit_bytes, warmup_s)
        if json_out:
            print(json.dumps(diagnosis.to_dict(), indent=2))
        else:
            from memdoctor.report.console import stdout_console
            from memdoctor.report.terminal import print_diagnosis

            print_diagnosis(stdout_console(), diagnosis, title=rows[0].name)
        raise typer.Exit(0)

    from memdoctor.fleet.ranking import RankedSeries, rank

    ranked = rank([RankedSeries(row.name, judge_trace(row.trace, row.metric, row.name, limit_bytes, warmup_s,
                                                        True),
                                row.trace.header.get("labels") or {}) for row in rows])
    if json_out:
        print(json.dumps({"series": [r.to_dict() for r in ranked]}, indent=2))
    else:
        from memdoctor.fleet.render import ranked_table
        from memdoctor.report.console import stdout_console

        stdout_console().print(ranked_table(ranked, title=f"{len(ranked)} series, worst first"))
    raise typer.Exit(0)


COMMAND = CommandSpec("analyze", analyze_command, HELP, order=30)
