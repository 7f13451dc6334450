"""`memdoctor run`: launch a command and record its memory until it exits or --duration ends."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

from memdoctor.commands.common import CommandSpec, fail, handle_errors
from memdoctor.commands.recording_options import (
    AlertOpt,
    DetailEvery,
    Duration,
    Interval,
    JsonOut,
    Limit,
    MaxGrowth,
    Metric,
    NoChildren,
    Output,
    Pss,
    ReportOpt,
    SnapshotAt,
    TargetOutputOpt,
    Warmup,
    check_report_option,
    finish,
    live_mode,
    open_writer,
    parse_common,
    write_report,
)
from memdoctor.units import parse_duration

HELP = """Launch CMD and sample the memory of its whole process tree until it exits or --duration ends.

At the end the command is stopped cleanly (SIGTERM to its process group, SIGKILL after --grace),
and the growth verdict is printed. Exit code: 0 whatever was found; 1 only with --alert or
--max-growth when they fire; 2 on bad options; with --exit-code child, the command's own.

Examples:

  memdoctor run -o app.jsonl -- python3 app.py

  memdoctor run --interval 100ms --duration 10m --limit 512MB -o t.jsonl -- node server.js

  memdoctor run --alert --json -- python3 worker.py

  memdoctor run --metric pss -o t.jsonl -- gunicorn -w 4 app:app      # judge PSS: shared pages once

  memdoctor run --heap-every 60s --snapshot-at 70%,85% -o app.jsonl -- python3 app.py

  memdoctor run --heap-every 30s --duration 10m -o api.jsonl --report api.html -- node server.js
"""


@handle_errors
def run_command(
    cmd: Annotated[
        list[str] | None, typer.Argument(help="The command to launch, after --.", show_default=False)
    ] = None,
    interval: Interval = "1s",
    duration: Duration = None,
    output: Output = None,
    limit: Limit = None,
    detail_every: DetailEvery = "5s",
    pss: Pss = False,
    alert: AlertOpt = False,
    max_growth: MaxGrowth = None,
    warmup: Warmup = "0s",
    metric: Metric = "rss",
    no_children: NoChildren = False,
    heap_every: Annotated[str | None, typer.Option(
        "--heap-every", help="A heap snapshot this often (60s) beside the trace: Python processes through the "
                             "agent memdoctor starts them with (no gdb), Node.js through the inspector.")] = None,
    snapshot_at: SnapshotAt = None,
    report: ReportOpt = None,
    grace: Annotated[str, typer.Option("--grace", help="Time between SIGTERM and SIGKILL when stopping.")] = "5s",
    exit_code: Annotated[str, typer.Option("--exit-code", help="'memdoctor' (the contract) or 'child' (the "
                                                                "command's own exit code).")] = "memdoctor",
    target_out: TargetOutputOpt = None,
    json_out: JsonOut = False,
) -> None:
    if not cmd:
        raise fail("no command given: use `memdoctor run [OPTIONS] -- CMD ARGS...`")
    if exit_code not in ("memdoctor", "child"):
        raise fail(f"--exit-code must be 'memdoctor' or 'child', not {exit_code!r}")
    from memdoctor.pipelines.recording import ended_unsampled, exited_unsampled, record_command
    from memdoctor.report.console import stderr_console
    from memdoctor.sampling.target import detect_runtime

    settings = parse_common(interval, duration, detail_every, limit, alert, max_growth, warmup, metric, pss=pss,
                            heap=detect_runtime(list(cmd)) != "python")
    grace_s = parse_duration(grace)
    heap_every_s = parse_duration(heap_every) if heap_every else None
    if snapshot_at:
        from memdoctor.heap.triggers import parse_shares

        parse_shares(snapshot_at)  # a bad value fails here, before anything is launched
    check_report_option(report, output)
    from memdoctor.sampling.target import target_output

    stdio = target_output(target_out, json_out)  # a bad FILE: one line, exit 2, no trace file created
    try:
        writer = open_writer(output)  # before launching: an unwritable path must not start anything
    except BaseException:
        stdio.close()
        raise
    try:
        from memdoctor.heap.python.launch import heap_launch_environment
        from memdoctor.heap.triggers import HeapEvery, start_heap_every, start_snapshot_at

        periodic: list[HeapEvery] = []
        from memdoctor.sampling.recorder import RecordingState

        state = RecordingState()  # --snapshot-at marks its snapshots in it (the trace's heap_snapshot events)

        def on_start(child):
            stops = [start_snapshot_at(child.pid, snapshot_at, settings.limit_bytes, output,
                                       on_capture=state.mark_snapshot)]
            # Python processes of the tree snapshot themselves (the agent of heap_launch_environment);
            # Node.js processes are snapshotted from here, through the inspector.
            every = start_heap_every(child.pid, heap_every_s, output, frozenset({"node"}))
            if every is not None:
                periodic.append(every)
                stops.append(every.stop)

            def stop_all() -> None:
                for stop in stops:
                    if stop is not None:
                        stop()
            return stop_all

        started = time.time()
        with heap_launch_environment(heap_every_s, output, settings.limit_bytes) as heap:
            outcome = record_command(list(cmd), settings, writer=writer, live_mode=live_mode(json_out),
                                     console=stderr_console(), pss=pss, follow_children=not no_children,
                                     grace_s=grace_s, on_start=on_start, output=stdio, state=state)
        if heap is not None:
            from memdoctor.heap.python.launch import failure_line

            written = len([p for p in heap.snapshots() if os.path.getmtime(p) >= started])
            line = failure_line(heap, started, written)
            if line:
                outcome.warnings.append(line)
            elif not written and any(t.found_nothing() for t in periodic):
                # Never silent: neither the agent (Python) nor the inspector (Node.js) had a process to snapshot.
                what = detect_runtime(list(cmd)) or "this command"
                outcome.warnings.append(f"--heap-every took no snapshot: no Python or Node.js process in the tree of "
                                        f"{what} while it was recorded")
    finally:
        stdio.close()
        if writer is not None:
            writer.close()
    if ended_unsampled(outcome) and exit_code != "child":
        # Exited between its start and the first sample, or right after it: the same one line as exiting before
        # its process tree could be opened (which of the three happened was the machine's load: exit 2, or exit 0
        # with "0 samples", or with "only 1 usable samples": `run -- false` in CI). The trace keeps what was read.
        raise exited_unsampled(list(cmd), outcome.child_exit or "exited", outcome.result.samples)
    code = finish(outcome, json_out)
    write_report(report, output, settings.limit_bytes, settings.warmup_s, settings.metric)
    if exit_code == "child" and code != 2:
        rc = outcome.child_returncode
        code = rc if rc is not None and rc >= 0 else 128 + (-rc if rc else 0)
    raise typer.Exit(code)


COMMAND = CommandSpec("run", run_command, HELP, order=10, context_settings={"allow_extra_args": True})
