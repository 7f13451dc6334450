"""`memdoctor snapshot`: take a heap snapshot of a running Python or Node.js process by PID."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from memdoctor.commands.common import CommandSpec, handle_errors

HELP = """Take a heap snapshot of a running Python or Node.js process, without restarting it.

The runtime is detected from the process. The snapshot file is created with mode 0600, with
FILE.meta.json beside it (pid, runtime, time, RSS, memory limit) for `memdoctor diff`. Heap
string values are never written to reports.

Examples:

  memdoctor snapshot 4242 -o before.snap

  memdoctor snapshot 4242 -o api.heapsnapshot            # a Node.js process

  memdoctor snapshot 4242 -o after.snap --allocations 30s
"""


@handle_errors
def snapshot_command(
    pid: Annotated[int, typer.Argument(help="PID of the Python or Node.js process.", show_default=False)],
    output: Annotated[str, typer.Option("--output", "-o", help="Snapshot file to write.")],
    allocations: Annotated[str | None, typer.Option("--allocations", help="Also record for this long which code "
                                                                          "allocates what stays alive (30s).")] = None,
    timeout: Annotated[str, typer.Option("--timeout", help="Give up (leaving the target untouched) after this "
                                                           "long.")] = "60s",
    force: Annotated[bool, typer.Option("--force", help="Capture even when it would likely exceed the target's "
                                                        "memory limit.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the snapshot's metadata as JSON.")] = False,
) -> None:
    from memdoctor.heap.detect import runtime_of_pid
    from memdoctor.heap.runtimes import CaptureOptions, engine
    from memdoctor.units import parse_duration

    options = CaptureOptions(allocations_s=parse_duration(allocations) if allocations else None,
                             timeout_s=parse_duration(timeout), force=force)
    runtime = runtime_of_pid(pid)
    meta = engine(runtime, "capture").capture(pid, output, options=options)
    if json_out:
        print(json.dumps(meta, indent=2))
    else:
        from memdoctor.report.console import stdout_console
        from memdoctor.units import format_bytes

        console = stdout_console()
        console.print(f"snapshot of {runtime} PID {pid} written to {output} "
                      f"(RSS {format_bytes(meta.get('rss'))}); metadata in {output}.meta.json", markup=False)
        for note in meta.get("notes", []):
            console.print(f"note: {note}", markup=False)
        sites = meta.get("allocation_sites") or []
        if sites:
            console.print("allocated and still alive, by site:", markup=False)
            for site in sites[:10]:
                if isinstance(site, dict):
                    where = f"{site.get('function', '?')} {site.get('file', '?')}:{site.get('line', '?')}"
                    console.print(f"  {format_bytes(site.get('bytes')):>10}  {where}", markup=False)
    raise typer.Exit(0)


COMMAND = CommandSpec("snapshot", snapshot_command, HELP, order=40)
