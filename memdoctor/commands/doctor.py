"""`memdoctor doctor`: from a PID or a command to the named leak and its cap, unattended."""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Annotated

import typer

from memdoctor.commands.common import CommandSpec, fail, handle_errors
from memdoctor.commands.recording_options import (
    DetailEvery,
    Interval,
    JsonOut,
    Limit,
    Metric,
    Output,
    SnapshotAt,
    TargetOutputOpt,
    Warmup,
)

HELP = """Watch a process (by PID) or a command (after --); as soon as the live verdict shows leak (held
over new evidence, as the live view and --alert hold it: 30 s at least), or memory crosses a
--snapshot-at share of the limit, take three heap snapshots spaced so the leak
grows measurably between them, diff them, and print one report: what grows, who holds it, the
growth rate, the time to the limit and the caps with their arithmetic. The HTML report and the
JSON are written beside the trace. At --max-time, a watch whose whole diagnosis says leak gets
its snapshots then; a healthy target ends with "no leak found". The target is never stopped by
a capture; a target given by PID keeps running.

Examples:

  memdoctor doctor 4242

  memdoctor doctor --limit 512MB -o api.jsonl -- node server.js

  memdoctor doctor --max-time 2m -- python3 worker.py

  memdoctor doctor --metric heap --detail-every 1s -- node server.js   # trigger on V8's heap, not RSS
"""

# Default --max-time: long enough for the diagnosis to call a steady leak of a few MiB/min and
# for three snapshots at the widest spacing (3 x 60 s), short enough to finish unattended.
DEFAULT_MAX_TIME = "5m"


@handle_errors
def doctor_command(
    cmd: Annotated[list[str] | None, typer.Argument(help="A PID, or the command to launch after --.",
                                                    show_default=False)] = None,
    interval: Interval = "200ms",
    output: Output = None,
    limit: Limit = None,
    snapshot_at: SnapshotAt = None,
    max_time: Annotated[str, typer.Option(
        "--max-time", help="Stop watching after this long; if the whole watch then reads leak, the snapshots are "
                           "taken first.")]
    = DEFAULT_MAX_TIME,
    target_out: TargetOutputOpt = None,
    warmup: Warmup = "0s",
    metric: Metric = "rss",
    detail_every: DetailEvery = "5s",
    json_out: JsonOut = False,
) -> None:
    from memdoctor.commands.recording_options import live_mode, open_writer, parse_common
    from memdoctor.pipelines.doctor import Watcher, build_outputs, snapshot_prefix
    from memdoctor.report.console import stderr_console, stdout_console
    from memdoctor.sampling.recorder import RecordingState
    from memdoctor.units import parse_duration

    if not cmd:
        raise fail("give a PID or a command: `memdoctor doctor PID` or `memdoctor doctor -- CMD ARGS...`")
    from memdoctor.sampling.target import detect_runtime

    if len(cmd) > 1 and cmd[0].isdigit() and shutil.which(cmd[0]) is None:
        # `doctor 123 -- sleep 5`: the PID and the command arrive as one argument list (it said "command not
        # found: 123").
        raise fail(f"give a PID or a command, not both: `memdoctor doctor {cmd[0]}` or `memdoctor doctor -- "
                   f"{' '.join(cmd[1:])}`")
    launched = not (len(cmd) == 1 and cmd[0].isdigit())
    settings = parse_common(interval, None, detail_every, limit, False, None, warmup, metric,
                            heap=launched and detect_runtime(list(cmd)) != "python")
    max_time_s = parse_duration(max_time)
    if max_time_s <= 0:
        raise fail("--max-time must be longer than zero")
    shares: list[float] = []
    if snapshot_at:
        from memdoctor.heap.triggers import parse_shares

        shares = parse_shares(snapshot_at)
    pid = int(cmd[0]) if len(cmd) == 1 and cmd[0].isdigit() else None
    if target_out is not None and pid is not None:
        raise fail("--target-output applies to a command doctor launches (after --), not to a PID")
    trace_path = output or os.path.abspath(f"memdoctor-doctor-{pid or 'run'}-{int(time.time())}.jsonl")
    console = stderr_console()
    state = RecordingState(judge_live=True)  # doctor's trigger is the live verdict the panel shows
    watchers: list[Watcher] = []

    def watcher_for(target_pid: int, limit_bytes: int | None) -> Watcher:
        w = Watcher(state, target_pid, limit_bytes=limit_bytes, prefix=snapshot_prefix(trace_path), shares=shares,
                    max_time_s=max_time_s, say=lambda m: console.print(m, markup=False),
                    warmup_s=settings.warmup_s)
        watchers.append(w)
        return w

    if pid is not None:
        from memdoctor.sampling.target import describe

        describe(pid)  # an unknown PID fails before any file is created
    from memdoctor.sampling.target import target_output

    stdio = target_output(target_out, json_out) if pid is None else None  # a bad FILE: exit 2, nothing created
    writer = open_writer(trace_path)
    try:
        if pid is not None:
            from memdoctor.pipelines.recording import attach_plan, execute

            plan = attach_plan(pid, settings, writer=writer, live_mode=live_mode(json_out), console=console,
                               source_name="memdoctor doctor", state=state)
            stop = watcher_for(pid, plan.limit.bytes).start()
            try:
                outcome = execute(plan)
            finally:
                stop()
                plan.source.close()
        else:
            from memdoctor.pipelines.recording import record_command
            from memdoctor.sampling.limits import discover_limit_for_pid, with_override

            def on_start(child):
                found = with_override(discover_limit_for_pid(child.pid), settings.limit_bytes)
                return watcher_for(child.pid, found.bytes).start()

            outcome = record_command(list(cmd), settings, writer=writer, live_mode=live_mode(json_out),
                                     console=console, source_name="memdoctor doctor", on_start=on_start,
                                     state=state, output=stdio)
    finally:
        if stdio is not None:
            stdio.close()
        if writer is not None:
            writer.close()
    run = watchers[0].run if watchers else None
    if run is None:
        raise fail("the target could not be watched")
    # The limit the user gave, else none: the report then reads the trace's and the snapshots' own (the one this
    # recording found), exactly as `report TRACE SNAPSHOTS` does on these files, and names where it came from
    # (passing the found limit here printed "caps: limit ... from --limit" when no --limit was given).
    result = build_outputs(trace_path, run, settings.limit_bytes, warmup_s=settings.warmup_s, metric=settings.metric)
    verdict = (result["report"].get("diagnosis") or {}).get("verdict")
    # A command that failed before the diagnosis could say anything (a wrong argument, a crash at start):
    # bad input, not "no leak found". Exit 2 with one line, the trace and report kept.
    failed_early = (pid is None and run.trigger is None and outcome.result.end_reason == "target-exited"
                    and outcome.child_returncode not in (0, None) and verdict == "inconclusive")
    if json_out:
        print(json.dumps({"trace": os.path.abspath(trace_path), "html": result["html"], "json": result["json"],
                          "trigger": run.trigger, "trigger_at_s": run.trigger_at_s, "snapshots": run.snapshots,
                          "spacing_s": run.spacing_s,
                          "errors": run.errors, "target_alive": _alive(outcome.pid) if pid else None,
                          "target_exit": outcome.child_exit, "report": result["report"]}, indent=2, default=str))
    else:
        out = stdout_console()
        out.print(result["terminal"], markup=False, highlight=False)
        if run.trigger is None and not failed_early:
            out.print(_no_trigger_line(verdict, outcome.result.end_reason, outcome.result.duration_s), markup=False)
        out.print(f"trace: {os.path.abspath(trace_path)}\nHTML report: {result['html']}\nJSON: {result['json']}",
                  markup=False)
    if failed_early:
        raise fail(f"the command {outcome.child_exit} after {outcome.result.duration_s:.1f}s, before the "
                   "diagnosis could decide: nothing to judge")
    raise typer.Exit(0)


def _no_trigger_line(verdict: str | None, end_reason: str | None, duration_s: float) -> str:
    """Why a watch ended without snapshots. "no leak found" only when the report says so: a command that leaked and
    exited before the live verdict held (and before --max-time's last look) got "no leak found" under a report
    heading "leak"."""
    if verdict != "leak":
        return f"no leak found: the diagnosis did not call a leak in {duration_s:.0f}s (evidence above)"
    ended = "the target exited" if end_reason == "target-exited" else "the watch ended"
    return (f"no snapshots: the diagnosis says leak, but {ended} after {duration_s:.0f}s, before doctor took them "
            "(it takes them once the live verdict shows leak, or at --max-time): watch it longer")


def _alive(pid: int | None) -> bool | None:
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


COMMAND = CommandSpec("doctor", doctor_command, HELP, order=15, context_settings={"allow_extra_args": True})
