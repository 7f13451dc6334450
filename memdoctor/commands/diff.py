"""`memdoctor diff`: what grows between two or three heap snapshots, ranked by bytes."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from memdoctor.commands.common import CommandSpec, handle_errors, parse_limit

HELP = """Compare two or three heap snapshots of one process and rank what grows by bytes:
named containers (module globals, class attributes, caches, Maps), types, allocation sites.
With three snapshots only what grew in both steps is kept: steady growth, not a one-off.
Heap values (Map keys, strings, dict keys: ids, e-mails, tokens) are never printed unless
--show-values is given; it prints a few of the newest entries of each growing container, under
a warning, for when the names alone do not tell which requests leak.
Exit code 0 whatever is found; 2 when a snapshot cannot be read.

Examples:

  memdoctor diff before.snap after.snap

  memdoctor diff a.heapsnapshot b.heapsnapshot c.heapsnapshot --json

  memdoctor diff t1.snap t2.snap t3.snap --limit 512MB --top 10

  memdoctor diff a.heapsnapshot b.heapsnapshot --show-values --top 3
"""


@handle_errors
def diff_command(
    snapshots: Annotated[list[str], typer.Argument(help="OLD NEW [NEWER]: snapshots of the same process.",
                                                   show_default=False)],
    limit: Annotated[str | None, typer.Option("--limit", help="Memory limit for the caps; default: the "
                                                              "snapshots' metadata, else physical RAM.")] = None,
    top: Annotated[int, typer.Option("--top", help="How many rows to show.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print {\"rows\": [...]} as JSON.")] = False,
    show_values: Annotated[bool, typer.Option(
        "--show-values", help="Also print sample entries of growing containers: heap VALUES, which may be "
                              "secrets (never shown without this flag).")] = False,
) -> None:
    from memdoctor.commands.common import fail
    from memdoctor.heap.detect import runtime_of_file
    from memdoctor.heap.runtimes import engine

    if not 2 <= len(snapshots) <= 3:
        raise fail("give two or three snapshots: OLD NEW [NEWER]")
    if top < 1:
        raise fail("--top must be at least 1")
    limit_bytes = parse_limit(limit)
    runtimes = {runtime_of_file(path) for path in snapshots}
    if len(runtimes) > 1:
        raise fail(f"the snapshots come from different runtimes ({', '.join(sorted(runtimes))}): diff one process")
    result = engine(runtimes.pop(), "diff").diff_snapshots(list(snapshots), limit_bytes=limit_bytes, top=top,
                                                                 show_values=show_values)
    if json_out:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        from memdoctor.report.console import stdout_console
        from memdoctor.report.diff_table import print_diff

        print_diff(stdout_console(), result, top=top)
    raise typer.Exit(0)


COMMAND = CommandSpec("diff", diff_command, HELP, order=50)
