"""`memdoctor compare BEFORE AFTER`: confirm a fix with numbers (floor growth with intervals, time to the limit)."""

from __future__ import annotations

import json
import textwrap
from typing import Annotated, Any

import typer

from memdoctor.commands.common import EXIT_JUDGEMENT_FAILED, CommandSpec, handle_errors, judge_worst_series, parse_limit
from memdoctor.units import parse_duration

HELP = """Compare two traces of the same program, before and after a fix: the growth of the memory floor
in each, with its 90% confidence interval (the diagnosis' own), whether the leak is gone, and the new time to the limit.
Outcome: fixed (BEFORE leaked, AFTER does not), improved (AFTER significantly slower, and both leak, or
BEFORE is undecided and AFTER does not leak), unchanged, or worse (AFTER leaks when BEFORE did not, or
both leak and AFTER grows significantly faster, or BEFORE does not leak and an undecided AFTER grows
significantly faster). A significant difference between two traces that neither leaks is named, not judged.

Exit code: 1 when AFTER is worse; 0 otherwise; 2 when an input cannot be read.

Examples:

  memdoctor compare before.jsonl after.jsonl

  memdoctor compare before.csv after.csv --limit 512MB --json
"""


def compare_traces(before_path: str, after_path: str, limit_bytes: int | None, metric: str = "rss",
                   warmup_s: float = 0.0) -> dict[str, Any]:
    """Read, diagnose and compare two traces (the I/O edge around analysis.compare)."""
    from memdoctor.analysis.compare import compare

    (_, before, before_note), (_, after, after_note) = (judge_worst_series(path, metric, limit_bytes, warmup_s)
                                                        for path in (before_path, after_path))
    result = compare(before, after)
    result["before"]["input"], result["after"]["input"] = before_path, after_path
    result["evidence"] += [note for note in (before_note, after_note) if note]
    return result


def _ci_text(ci: dict[str, Any]) -> str:
    """The growth and its interval in one time unit, as analyze and gate print them (each bound in its own unit
    read "51.2 KiB/min (90% CI -3.1 KiB/min to 1.7 MiB/s)")."""
    from memdoctor.analysis.thresholds import GROWTH_INTERVAL
    from memdoctor.units import format_rate_range

    return format_rate_range(ci.get("slope_bytes_per_s"), ci.get("low"), ci.get("high"),
                             label=f"{GROWTH_INTERVAL:.0%} CI")


# The comparison's width in columns: its table's and its reasons' (every terminal rendering fits 100 columns).
WIDTH = 100


def print_comparison(result: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from memdoctor.report.console import stdout_console
    from memdoctor.units import format_duration

    style = {"fixed": "bold green", "improved": "bold yellow", "unchanged": "bold", "worse": "bold red"}
    table = Table(title="memdoctor compare", width=WIDTH)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("BEFORE", overflow="fold")
    table.add_column("AFTER", overflow="fold")
    b, a = result["before"], result["after"]
    table.add_row("input", b["input"], a["input"])
    table.add_row("verdict", f"{b['verdict']} ({b['pattern']})", f"{a['verdict']} ({a['pattern']})")
    table.add_row("floor growth", _ci_text(b["floor_slope"]), _ci_text(a["floor_slope"]))
    table.add_row("time to limit", format_duration(b["time_to_limit_s"]), format_duration(a["time_to_limit_s"]))
    console = stdout_console()
    console.print(table)
    console.print(Text(f"outcome: {result['outcome']}", style=style.get(result["outcome"], "")))
    for line in result["evidence"]:
        # Within the table's width: a reason with a difference's p-value ran to 120 columns, the piped width. Wrapped
        # here, not by rich, so that a reason's next line keeps its indent (rich's Padding would pad every line to the
        # width with spaces).
        wrapped = textwrap.fill(line, width=min(console.width, WIDTH), initial_indent="  ", subsequent_indent="  ")
        console.print(Text(wrapped), highlight=False, soft_wrap=True)


@handle_errors
def compare_command(
    before: Annotated[str, typer.Argument(help="Trace recorded before the fix.", show_default=False)],
    after: Annotated[str, typer.Argument(help="Trace recorded after the fix.", show_default=False)],
    limit: Annotated[str | None, typer.Option("--limit", help="Memory limit (512MB); default: each trace's "
                                                              "own.")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Series to compare: rss, rss_root, pss, uss, heap.")] = "rss",
    warmup: Annotated[str, typer.Option("--warmup", help="Do not judge the first part of each trace (start-up, "
                                                         "cache fill), as gate --warmup.")] = "0s",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    limit_bytes = parse_limit(limit)
    result = compare_traces(before, after, limit_bytes, metric, parse_duration(warmup))
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        print_comparison(result)
    raise typer.Exit(EXIT_JUDGEMENT_FAILED if result["worse"] else 0)


COMMAND = CommandSpec("compare", compare_command, HELP, order=65)
