"""`memdoctor fleet`: rank every container a Prometheus server knows by who runs out of memory first."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from memdoctor.commands.common import CommandSpec, fail, handle_errors, parse_limit
from memdoctor.units import UnitError, parse_duration

HELP = """Query a Prometheus server (or Thanos, Mimir, VictoriaMetrics: anything with its HTTP API)
for the memory of every container, analyse each series with memdoctor's classifier, and print a
ranked table: verdict, shape, growth of the memory floor and time to the limit, worst first.

By default the series are container_memory_working_set_bytes (what the OOM killer judges) and
each one's limit comes from container_spec_memory_limit_bytes or kube-state-metrics. Series of
one container across restarts are joined, and the restarts are used as evidence. The query
load is bounded: series are fetched --batch-size at a time, --concurrency queries at once.

Credentials are read from the environment or from a file, never from the command line:
MEMDOCTOR_PROMETHEUS_TOKEN (or _TOKEN_FILE, or --token-file) for a bearer token;
MEMDOCTOR_PROMETHEUS_USER with MEMDOCTOR_PROMETHEUS_PASSWORD (or _PASSWORD_FILE, or
--basic-auth-file holding user:password) for basic auth; MEMDOCTOR_PROMETHEUS_ORG_ID for the
X-Scope-OrgID tenant header. Exit code 0 whatever is found; 2 when Prometheus cannot be
queried or returns nothing.

Examples:

  memdoctor fleet --prometheus http://127.0.0.1:9090

  memdoctor fleet --prometheus http://prometheus:9090 --since 24h --step 1m --top 20

  memdoctor fleet --prometheus http://thanos:10902 --format markdown > daily.md

  memdoctor fleet --prometheus http://127.0.0.1:9090 --query 'my_app_rss_bytes{env="prod"}'
"""

OUTPUT_FORMATS = ("table", "markdown", "json")


def _parse_time(text: str) -> float:
    from memdoctor.traces.importers.common import iso_to_seconds

    try:
        return float(text)
    except ValueError:
        pass
    value = iso_to_seconds(text)
    if value is None:
        raise UnitError(f"--end {text!r} is not a time: use ISO-8601 (2026-11-23T10:00:00Z) or unix seconds")
    return value


@handle_errors
def fleet_command(
    prometheus: Annotated[str, typer.Option("--prometheus", help="Base URL of the Prometheus HTTP API, e.g. "
                                                                 "http://127.0.0.1:9090.", show_default=False)],
    query: Annotated[str | None, typer.Option("--query", help="PromQL giving one memory series (bytes) per "
                                                              "container; default: container_memory_working_set_"
                                                              "bytes{container!=\"\",container!=\"POD\"}.")] = None,
    since: Annotated[str, typer.Option("--since", help="How far back to look (6h, 24h, 7d).")] = "6h",
    step: Annotated[str, typer.Option("--step", help="Resolution of the range query (30s, 1m).")] = "30s",
    end: Annotated[str | None, typer.Option("--end", help="End of the range (ISO-8601 or unix seconds); "
                                                          "default: now.")] = None,
    limit_query: Annotated[str | None, typer.Option("--limit-query", help="PromQL giving each container's "
                                                                          "memory limit in bytes; default: "
                                                                          "cAdvisor, then kube-state-metrics.")
                           ] = None,
    limit: Annotated[str | None, typer.Option("--limit", help="Limit for the series that have none "
                                                              "(512MB, 2GiB).")] = None,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Show only the N worst series.")] = None,
    output: Annotated[str, typer.Option("--format", help="Output: table, markdown or json.")] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON (same as --format "
                                                          "json).")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Series per range query.")] = 200,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=32, help="Range queries in flight "
                                                                                   "at once.")] = 2,
    timeout: Annotated[str, typer.Option("--timeout", help="Give up on a request that sends nothing for "
                                                           "this long.")] = "30s",
    retries: Annotated[int, typer.Option("--retries", min=0, max=10, help="Retries of a request that failed "
                                                                           "(down, timeout, 5xx, 429).")] = 2,
    token_file: Annotated[str | None, typer.Option("--token-file", help="File holding a bearer token.")] = None,
    basic_auth_file: Annotated[str | None, typer.Option("--basic-auth-file", help="File holding "
                                                                                  "user:password.")] = None,
) -> None:
    if json_out:
        output = "json"
    if output not in OUTPUT_FORMATS:
        raise fail(f"--format {output!r}: use one of {', '.join(OUTPUT_FORMATS)}")
    since_s = parse_duration(since)
    step_s = parse_duration(step)
    timeout_s = parse_duration(timeout)
    if since_s <= 0 or step_s <= 0 or timeout_s <= 0:
        raise fail("--since, --step and --timeout must be longer than zero")
    if since_s / step_s > 1_000_000:
        raise fail(f"--since {since} at --step {step} is over a million points per series: use a larger --step")
    fallback_limit = parse_limit(limit)
    end_s = _parse_time(end) if end is not None else time.time()

    from memdoctor.analysis import diagnose
    from memdoctor.fleet.prometheus import PrometheusClient, auth_from
    from memdoctor.fleet.query import DEFAULT_LIMIT_QUERIES, DEFAULT_QUERY, FleetPlan, run_fleet
    from memdoctor.fleet.ranking import rank, summary

    # A PrometheusError is a MemdoctorError: handle_errors maps it to one line and exit 2.
    client = PrometheusClient(prometheus, auth=auth_from(token_file=token_file, basic_auth_file=basic_auth_file),
                              timeout_s=timeout_s, retries=retries)
    start_s = end_s - since_s
    start_s = start_s - (start_s % step_s)  # on the step grid: batches and chunks line up
    plan = FleetPlan(query=query or DEFAULT_QUERY, start=start_s, end=end_s, step=step_s,
                     limit_queries=(limit_query,) if limit_query else DEFAULT_LIMIT_QUERIES,
                     custom_limit=limit_query is not None, batch_size=batch_size, concurrency=concurrency)

    def analyse(t, v, limit_bytes, restarts):
        return diagnose(t, v, limit_bytes=limit_bytes or fallback_limit, restart_times=restarts)

    client.ready()
    progress, on_progress = _progress(output)
    try:
        result = run_fleet(client, plan, analyse, on_progress)
    finally:
        if progress is not None:
            progress.stop()

    ranked = rank(result.rows)
    shown = ranked[:top] if top else ranked
    counts = summary(ranked)
    if output == "json":
        doc = {
            "series": [r.to_dict() for r in shown],
            "prometheus": client.shown,
            "query": plan.query,
            "start": _iso(plan.start), "end": _iso(plan.end), "step_s": plan.step,
            "series_analysed": len(ranked), "series_read": result.series_read, "summary": counts,
            "limits_found": result.limits_found, "batches": result.batches, "requests": client.requests,
            "timing_s": {"wall": round(result.wall_s, 3), "queries": round(result.query_s, 3),
                         "analysis": round(result.analysis_s, 3),
                         "analysis_per_series_ms": round(1000 * result.analysis_s / max(1, len(ranked)), 3)},
            "warnings": result.warnings,
        }
        print(json.dumps(doc, indent=2))
        raise typer.Exit(0)
    title = (f"{len(ranked)} series from {client.shown}, {_iso(plan.start)} to {_iso(plan.end)}: "
             f"{counts['leak']} leak, {counts['inconclusive']} inconclusive, {counts['no-leak']} no-leak"
             + (f"; the {len(shown)} worst" if len(shown) < len(ranked) else "; worst first"))
    if output == "markdown":
        from memdoctor.fleet.render import markdown

        notes = [f"Query: `{plan.query}`, step {step}."] + [f"Note: {w}" for w in result.warnings]
        print(markdown(shown, title=title, notes=notes), end="")
    else:
        from memdoctor.fleet.render import ranked_table
        from memdoctor.report.console import stdout_console

        console = stdout_console()
        console.print(ranked_table(shown, title=title))
        for warning in result.warnings:
            console.print(f"note: {warning}", markup=False, highlight=False)
    raise typer.Exit(0)


def _progress(output: str):
    """A progress bar on stderr when it is a terminal; (None, None) otherwise."""
    import sys

    from memdoctor.report.console import is_tty, stderr_console

    if not is_tty(sys.stderr):
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(TextColumn("querying and analysing"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[series]} series"), console=stderr_console(), transient=True)
    task = progress.add_task("fleet", total=None, series=0)
    progress.start()

    def update(done: int, total: int, series: int) -> None:
        progress.update(task, completed=done, total=total, series=series)

    return progress, update


def _iso(seconds: float) -> str:
    from memdoctor.traces.importers.common import iso_utc

    return iso_utc(seconds)


COMMAND = CommandSpec("fleet", fleet_command, HELP, order=35)
