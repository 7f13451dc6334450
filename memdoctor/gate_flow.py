"""The gate's pipeline: record (a command, a PID) or read (a trace), cut the warm-up, judge.

`commands/gate.py` parses options and calls `run_gate`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import Any

import numpy as np

from memdoctor.analysis import diagnose
from memdoctor.gate import Baseline, CommandStatus, GateResult, Measurements, Thresholds, judge, measure
from memdoctor.recording import CommonSettings, RecordingOutcome, attach_plan, execute, record_command
from memdoctor.redact import redact_argv
from memdoctor.report.console import stderr_console
from memdoctor.sampling.recorder import RecordingState
from memdoctor.sampling.target import TargetError
from memdoctor.traces.reader import read_trace
from memdoctor.traces.writer import open_trace_writer


def _measurements(t: np.ndarray, mem: np.ndarray, warmup_s: float, limit_bytes: int | None,
                  restarts: np.ndarray | None = None) -> Measurements | None:
    if len(t) == 0:
        return None
    start = float(t[0])
    keep = t >= start + warmup_s
    if keep.sum() < 2:  # a warm-up longer than the run: judge what there is rather than nothing
        keep = np.ones(len(t), dtype=bool)
    t, mem = t[keep], mem[keep]
    diagnosis = diagnose(t, mem, limit_bytes=limit_bytes, restart_times=restarts)
    return measure(t, mem, diagnosis, judged_from_s=float(t[0] - start))


def baseline_from_trace(path: str) -> Baseline:
    """A baseline computed from a recorded trace of the main branch."""
    trace = read_trace(path)
    m = _measurements(trace.t, trace.rss, 0.0, trace.limit_bytes)
    assert m is not None  # read_trace refuses inputs with no sample
    return Baseline(m.diagnosis.growth_bytes_per_s, m.growth_noise_bytes_per_s, m.p95_bytes, m.p95_noise_bytes,
                    source=path)


def _command_status(outcome: RecordingOutcome, duration_s: float | None) -> CommandStatus:
    rc = outcome.child_returncode
    description = outcome.child_exit or "ended"
    if outcome.oom_killed:
        return CommandStatus(description, True, "it was OOM-killed at its memory limit")
    if outcome.stopped_by_memdoctor:
        return CommandStatus("ran for the whole gate and was stopped by memdoctor", False)
    if rc is not None and rc < 0:
        return CommandStatus(description, True, "it crashed")
    if rc not in (None, 0):
        return CommandStatus(description, True, "a failing command is not a memory verdict")
    if duration_s is not None and outcome.result.duration_s < duration_s * 0.95:
        return CommandStatus(description, True, f"it exited early, after {outcome.result.duration_s:.1f}s of "
                                                f"{duration_s:.1f}s")
    return CommandStatus(description, False)


def _start_load(load: list[str], state: RecordingState, stop_when_done: bool):
    """Start the load generator; when it exits (and no --duration is set), end the recording."""
    proc = subprocess.Popen(load, process_group=0, stdout=subprocess.DEVNULL)

    def watch_load() -> None:
        proc.wait()
        if stop_when_done:
            state.request_stop("load-finished")

    threading.Thread(target=watch_load, name="memdoctor-load", daemon=True).start()

    def stop() -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    return stop


def run_gate(*, cmd: list[str], pid: int | None, trace: str | None, duration_s: float | None, warmup_s: float,
             interval_s: float, detail_every: float, output: str | None, follow_children: bool,
             limit_bytes: int | None, load: list[str] | None, thresholds: Thresholds, baseline: Baseline | None,
             json_out: bool) -> tuple[GateResult, str, list[float], float]:
    """Record or read, then judge. Returns (result, title, memory for a sparkline, seconds taken)."""
    if trace is not None:
        tr = read_trace(trace)
        restarts = tr.event_times("restart", "oom_kill")
        m = _measurements(tr.t, tr.rss, warmup_s, limit_bytes or tr.limit_bytes, restarts if len(restarts) else None)
        return judge(m, thresholds, baseline=baseline), trace, list(tr.rss[-2000:]), 0.0
    settings = CommonSettings(interval_s, duration_s, detail_every if detail_every > 0 else None, limit_bytes, None)
    state = RecordingState()
    live = "off" if json_out else "plain"  # a gate runs in CI: plain lines, never a live panel
    writer = open_trace_writer(output) if output else None
    title = " ".join(redact_argv(cmd)) if cmd else f"PID {pid}"  # titles go into summaries and baselines
    try:
        if pid is not None:
            plan = attach_plan(pid, settings, writer=writer, live_mode=live, console=stderr_console(),
                               follow_children=follow_children, source_name="memdoctor gate", state=state)
            stop_load = _start_load(load, state, False) if load else None
            try:
                outcome = execute(plan)
            finally:
                plan.source.close()
                if stop_load:
                    stop_load()
            status = None
        else:
            on_start = (lambda _child: _start_load(load, state, duration_s is None)) if load else None
            try:
                outcome = record_command(cmd, settings, writer=writer, live_mode=live, console=stderr_console(),
                                         follow_children=follow_children, source_name="memdoctor gate",
                                         on_start=on_start, state=state)
            except TargetError as exc:
                result = judge(None, thresholds, command=CommandStatus("could not be started", True, str(exc)),
                               baseline=baseline)
                return result, title, [], 0.0
            status = _command_status(outcome, duration_s)
    finally:
        if writer is not None:
            writer.close()
    restarts = np.asarray([float(outcome.t[-1])]) if outcome.oom_killed and len(outcome.t) else None
    m = _measurements(outcome.t, outcome.rss, warmup_s, outcome.limit.bytes, restarts)
    result = judge(m, thresholds, command=status, baseline=baseline)
    if outcome.result.end_reason == "write-error" and outcome.result.error:
        result.notes.append(outcome.result.error)
    memory: list[Any] = list(outcome.rss[-2000:])
    return result, title, memory, outcome.result.duration_s
