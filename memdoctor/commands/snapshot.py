"""`memdoctor snapshot`: take a heap snapshot of a running Python or Node.js process by PID."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from memdoctor.commands.common import CommandSpec, handle_errors

HELP = """Take a heap snapshot of a running Python or Node.js process, without restarting it.

The runtime is detected from the process. The snapshot file is created with mode 0600, with
FILE.meta.json beside it (pid, runtime, time, RSS, memory limit) for `memdoctor diff`. Heap
string values are never written to reports, and Python snapshots record none unless
--show-values asks for a few entries per container.

Examples:

  memdoctor snapshot 4242 -o before.snap

  memdoctor snapshot 4242 -o api.heapsnapshot            # a Node.js process

  memdoctor snapshot 4242 -o after.snap --allocations 30s

  memdoctor snapshot 4242 -o api.heapsnapshot --count 3 --every 60s   # api.1/.2/.3.heapsnapshot

With --count N, N snapshots are taken --every apart and numbered (a.1.snap, a.2.snap, ...),
ready for `memdoctor diff`. For Node.js the series is taken in one inspector session, so V8's
object ids stay comparable and `diff` can also list the objects allocated between the first two
snapshots that are still alive in the third (separate `snapshot` calls get new ids each time).
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
    count: Annotated[int, typer.Option("--count", help="Take a series of this many snapshots (numbered "
                                                         "files).")] = 1,
    every: Annotated[str, typer.Option("--every", help="Time between the snapshots of a series.")] = "60s",
    show_values: Annotated[bool, typer.Option(
        "--show-values", help="Python: also record the 3 newest entries of each named container (keys and plain "
                              "values: they may be secrets) for `diff --show-values`. Node snapshots hold every "
                              "value anyway.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the snapshot's metadata as JSON (a list with "
                                                          "--count).")] = False,
) -> None:
    from memdoctor.commands.common import fail
    from memdoctor.heap.detect import runtime_of_pid
    from memdoctor.heap.runtimes import CaptureOptions, capture_series, numbered_paths
    from memdoctor.report.console import stdout_console
    from memdoctor.units import format_bytes, parse_duration

    options = CaptureOptions(allocations_s=parse_duration(allocations) if allocations else None,
                             timeout_s=parse_duration(timeout), force=force, show_values=show_values)
    if not 1 <= count <= 100:
        raise fail("--count must be between 1 and 100")
    every_s = parse_duration(every)
    if count > 1 and every_s <= 0:
        raise fail("--every must be longer than zero: a series of snapshots needs time between them")
    if options.timeout_s <= 0:
        raise fail("--timeout must be longer than zero")
    if options.allocations_s is not None and options.allocations_s <= 0:
        raise fail("--allocations must be longer than zero")
    runtime = runtime_of_pid(pid)
    paths = numbered_paths(output, count)
    console = stdout_console()
    done: list[str] = []

    def written(meta: dict) -> None:  # progress of a series, as each file lands
        path = paths[len(done)]
        done.append(path)
        if not json_out:
            step = f"{len(done)}/{count} " if count > 1 else ""
            left = f"; next in {every}" if len(done) < count else ""
            rss = format_bytes(meta.get("rss"))
            console.print(f"snapshot {step}of {runtime} PID {pid} written to {path} (RSS {rss}); "
                          f"metadata in {path}.meta.json{left}", markup=False)

    metas = capture_series(runtime, pid, paths, every_s=every_s, options=options, on_written=written)
    if json_out:
        # Where each snapshot went, whatever the runtime's metadata holds (Node's had no file name).
        metas = [{**meta, "snapshot": meta.get("snapshot") or path} for meta, path in zip(metas, paths, strict=False)]
        print(json.dumps(metas[0] if count == 1 else metas, indent=2))
    else:
        if count > 1:
            chosen = paths if count <= 3 else [paths[0], paths[count // 2], paths[-1]]
            console.print(f"next: memdoctor diff {' '.join(chosen)}", markup=False)
        meta = metas[-1]
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
