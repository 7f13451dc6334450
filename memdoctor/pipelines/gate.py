"""The gate's pipeline: record (a command, a PID) or read (a trace), cut the warm-up, judge.

`commands/gate.py` parses options and calls `run_gate`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from memdoctor.analysis import HeapGrowth, diagnose
from memdoctor.analysis.diagnosis import severity
from memdoctor.analysis.engine import SNAPSHOT_EVENT, check_judgeable, trace_heap_evidence
from memdoctor.analysis.gate import Baseline, CommandStatus, GateResult, Measurements, Thresholds, judge, measure
from memdoctor.analysis.thresholds import MIN_SAMPLES
from memdoctor.pipelines.live import heap_evidence, snapshot_times
from memdoctor.pipelines.recording import CommonSettings, RecordingOutcome, attach_plan, execute, record_command
from memdoctor.redact import redact_argv
from memdoctor.report.console import stderr_console
from memdoctor.sampling.recorder import RecordingState
from memdoctor.sampling.target import TargetError, target_output
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.model import Trace
from memdoctor.traces.reader import read_trace, read_traces
from memdoctor.traces.writer import open_trace_writer


def _measurements(t: np.ndarray, mem: np.ndarray, warmup_s: float, limit_bytes: int | None,
                  restarts: np.ndarray | None = None, oom_kills: np.ndarray | None = None,
                  heap_growth: Sequence[HeapGrowth] = (),
                  forecast_within_s: float | None = None,
                  snapshot_times: np.ndarray | None = None) -> Measurements | None:
    """The diagnosis of the window after the warm-up (the engine cuts it), and the gate's memory numbers.
    `heap_growth`: the runtime heap series read as the engine's heap evidence (engine.trace_heap_evidence of a trace's,
    pipelines.live.heap_evidence of a recording's). `forecast_within_s`: --max-time-to-limit, the horizon over which
    the diagnosis forecasts the limit for a reading that is not a leak (engine.diagnose)."""
    if len(t) == 0:
        return None
    diagnosis = diagnose(t, mem, limit_bytes=limit_bytes, restart_times=restarts, oom_kill_times=oom_kills,
                         warmup_s=warmup_s, heap_growth=heap_growth, forecast_within_s=forecast_within_s,
                         snapshot_times=snapshot_times)
    start = float(t[0])
    keep = t >= start + warmup_s
    if keep.sum() < MIN_SAMPLES:  # the engine judged the whole trace: so do the memory numbers
        keep = np.ones(len(t), dtype=bool)
    if snapshot_times is not None and len(snapshot_times):
        # The program's numbers, not memdoctor's snapshots' (doctor's trace as a baseline: its p95 with a V8
        # snapshot's memory was 211 MB against 117 MB for the same program: a helper's review, 2026-12-08); where the
        # engine judged up to the first snapshot, so do the memory numbers.
        before = keep & (t < float(np.min(snapshot_times)))
        if before.sum() >= MIN_SAMPLES:
            keep = before
    t, mem = t[keep], mem[keep]
    return measure(t, mem, diagnosis, judged_from_s=float(t[0] - start))


def _series(trace: Trace, metric: str, what: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(t, values) of the series --metric names, where it was read; TraceReadError (one line) for a series the
    trace does not have or the diagnosis cannot judge (a count)."""
    try:
        check_judgeable(metric)
        series = trace.metric(metric)
    except (KeyError, ValueError) as exc:
        raise TraceReadError(f"{what}: {exc.args[0]}" if what else str(exc.args[0])) from None
    keep = ~np.isnan(series)
    return trace.t[keep], series[keep]


def baseline_from_trace(path: str, metric: str = "rss", input_interval_s: float | None = None) -> Baseline:
    """A baseline computed from a recorded trace of the main branch, of the series the gate judges (an input
    without timestamps read at INPUT_INTERVAL_S, the gate's --interval with --trace, as the gated trace is)."""
    trace = read_trace(path, interval_s=input_interval_s)
    t, series = _series(trace, metric, f"baseline {path}")
    if not len(t):
        raise TraceReadError(f"baseline {path} has no sample of the {metric!r} series")
    snapshots = trace.event_times(SNAPSHOT_EVENT)
    m = _measurements(t, series, 0.0, trace.limit_bytes, snapshot_times=snapshots if len(snapshots) else None)
    assert m is not None  # read_trace refuses inputs with no sample
    return Baseline(m.diagnosis.growth_bytes_per_s, m.growth_noise_bytes_per_s, m.p95_bytes, m.p95_noise_bytes,
                    source=path)


def _command_status(outcome: RecordingOutcome, duration_s: float | None) -> CommandStatus:
    rc = outcome.child_returncode
    description = outcome.child_exit or "ended"
    if outcome.oom_killed:
        return CommandStatus(description, True, "it was OOM-killed at its memory limit")
    if outcome.result.end_reason in ("interrupted", "terminated"):
        # Ctrl-C or SIGTERM to memdoctor (a CI job cancelled, a timeout): the gate did not run its course,
        # and a pass would be a verdict on part of it ("ran for the whole gate" was printed for 3 s of 60).
        how = "Ctrl-C" if outcome.result.end_reason == "interrupted" else "SIGTERM"
        planned = f" of {duration_s:.1f}s" if duration_s is not None else ""
        return CommandStatus("was stopped by memdoctor", True,
                             f"the gate was stopped by {how} after {outcome.result.duration_s:.1f}s{planned}: "
                             "an interrupted gate is no verdict")
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


def _start_load(load: list[str], state: RecordingState, stop_when_done: bool) -> Callable[[], None]:
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


def gate_trace(path: str, warmup_s: float, limit_bytes: int | None, thresholds: Thresholds,
               baseline: Baseline | None, metric: str,
               input_interval_s: float | None = None) -> tuple[GateResult, str, list[float], float]:
    """Judge every series of a recorded input; the gate's result is the worst one's (failures first). Also the
    pytest plugin's judgement of a watch (pytest_plugin.judge_trace): one computation for both.
    INPUT_INTERVAL_S: the time between samples of an input without timestamps, as `analyze --interval`."""
    judged: list[tuple[GateResult, str, list[float]]] = []
    traces = read_traces(path, interval_s=input_interval_s)
    for tr in traces:
        t, series = _series(tr, metric)
        restarts, ooms = tr.event_times("restart"), tr.event_times("oom_kill")
        snapshots = tr.event_times(SNAPSHOT_EVENT)
        m = _measurements(t, series, warmup_s, limit_bytes or tr.limit_bytes,
                          restarts if len(restarts) else None, ooms if len(ooms) else None,
                          trace_heap_evidence(tr, metric, warmup_s), thresholds.min_time_to_limit_s,
                          snapshots if len(snapshots) else None)
        name = str(tr.header.get("name") or path)
        result = judge(m, thresholds, baseline=baseline, oom_kill_times=list(ooms))
        other_series = _other_series_note(tr, metric, warmup_s, limit_bytes)
        if other_series:
            result.notes.append(other_series)
        judged.append((result, name, list(series[-2000:])))
    if len(judged) == 1:
        return judged[0][0], path, judged[0][2], 0.0

    def worst(item: tuple[GateResult, str, list[float]]) -> tuple[bool, int, float]:
        m = item[0].measurements
        d = m.diagnosis if m else None
        return (item[0].passed, *(severity(d) if d else (3, 0.0)))

    judged.sort(key=worst)
    result, name, memory = judged[0]
    def said(r: GateResult) -> str:
        """pass or FAIL with the verdict, and the checks that failed ("FAIL (no-leak)" named none: --max-rss)."""
        verdict = r.measurements.diagnosis.verdict if r.measurements else "no samples"
        failed = [c.name for c in r.checks if not c.passed]
        if failed:
            return f"FAIL ({verdict}; failed: {', '.join(failed)})"
        return f"{'pass' if r.passed else 'FAIL'} ({verdict})"

    others = ", ".join(f"{n}: {said(r)}" for r, n, _ in judged[1:])
    result.notes.append(f"{len(judged)} series in {path}: the gate is the worst one's ({name}); the others: {others}")
    return result, f"{path} [{name}]", memory, 0.0


def _other_series_note(trace: Trace, metric: str, warmup_s: float, limit_bytes: int | None) -> str | None:
    """A note naming the other memory series a trace lists (Node's rss, heapUsed, external, arrayBuffers) with their
    verdicts, where the gate judges one (--metric): `analyze` shows a row for each, and on a healthy Node file its
    worst row read "inconclusive" (heapUsed) above a gate passing "no-leak" (rss) that said nothing of the others."""
    from memdoctor.analysis.engine import diagnose_trace

    listed = [str(m) for m in trace.header.get("metrics") or []]
    others = [m for m in listed if m != metric]
    if not others or metric not in listed:
        return None
    names = trace.header.get("metric_names") or {}
    said = []
    for m in others:
        try:
            d = diagnose_trace(trace, metric=m, limit_bytes=limit_bytes, warmup_s=warmup_s)
            said.append(f"{names.get(m, m)}: {d.verdict}")
        except (KeyError, ValueError):
            continue  # a series without samples (or a count): analyze shows no row for it either
    if not said:
        return None
    return (f"the input holds {len(listed)} memory series: the gate judged {names.get(metric, metric)} (--metric picks "
            f"another; analyze shows each); the others: {', '.join(said)}")


def run_gate(*, cmd: list[str], pid: int | None, trace: str | None, duration_s: float | None, warmup_s: float,
             interval_s: float, detail_every: float, output: str | None, follow_children: bool,
             limit_bytes: int | None, load: list[str] | None, thresholds: Thresholds, baseline: Baseline | None,
             json_out: bool, metric: str = "rss", target_output_spec: str | None = None,
             diagnose: bool = False,
             input_interval_s: float | None = None) -> tuple[GateResult, str, list[float], float]:
    """Record or read, then judge. Returns (result, title, memory for a sparkline, seconds taken).

    `diagnose` (`gate --diagnose`, needs `output`): while recording, heap snapshots are taken as `doctor`
    takes them (once the one diagnosis says leak, 3 snapshots spaced for the leak to show); a failing
    gate then gets the ranked leak report written beside the trace and attached to its result. With
    --trace, the snapshots already beside the trace are used.
    """
    if trace is not None:
        gated = gate_trace(trace, warmup_s, limit_bytes, thresholds, baseline, metric, input_interval_s)
        if diagnose and not gated[0].passed:
            _attach_report(gated[0], trace, None, limit_bytes, warmup_s, metric, input_interval_s,
                           thresholds.min_time_to_limit_s)
        return gated
    settings = CommonSettings(interval_s, duration_s, detail_every if detail_every > 0 else None, limit_bytes, None,
                              metric=metric)
    state = RecordingState()
    live = "off" if json_out else "plain"  # a gate runs in CI: plain lines, never a live panel
    # A bad --target-output FILE is one line and exit 2 before any file is created or anything started.
    stdio = target_output(target_output_spec, json_out) if pid is None else None
    writer = open_trace_writer(output) if output else None
    title = " ".join(redact_argv(cmd)) if cmd else f"PID {pid}"  # titles go into summaries and baselines
    watchers: list[Any] = []

    def start_watcher(target_pid: int) -> Callable[[], None] | None:
        if not diagnose or output is None:
            return None
        from memdoctor.pipelines.doctor import Watcher, snapshot_prefix

        console = stderr_console()
        watcher = Watcher(state, target_pid, limit_bytes=limit_bytes, prefix=snapshot_prefix(os.path.abspath(output)),
                          shares=[], max_time_s=float("inf"),
                          say=lambda line: console.print(line, markup=False, highlight=False), stop_recording=False,
                          warmup_s=warmup_s, held=False)
        watchers.append(watcher)
        return watcher.start()

    def on_command_start(child: Any) -> Callable[[], None]:
        stops = [start_watcher(child.pid), _start_load(load, state, duration_s is None) if load else None]

        def stop_all() -> None:
            for stop in stops:  # the watcher first: its snapshots need the target still running
                if stop is not None:
                    stop()
        return stop_all

    try:
        if pid is not None:
            plan = attach_plan(pid, settings, writer=writer, live_mode=live, console=stderr_console(),
                               follow_children=follow_children, source_name="memdoctor gate", state=state)
            stop_watcher = start_watcher(pid)
            stop_load = _start_load(load, state, False) if load else None
            try:
                outcome = execute(plan)
            finally:
                plan.source.close()
                for stop in (stop_watcher, stop_load):
                    if stop:
                        stop()
            status = None
        else:
            on_start = on_command_start if (load or diagnose) else None
            try:
                outcome = record_command(cmd, settings, writer=writer, live_mode=live, console=stderr_console(),
                                         follow_children=follow_children, source_name="memdoctor gate",
                                         on_start=on_start, state=state, output=stdio)
            except TargetError as exc:
                result = judge(None, thresholds, command=CommandStatus("could not be started", True, str(exc)),
                               baseline=baseline)
                return result, title, [], 0.0
            status = _command_status(outcome, duration_s)
    finally:
        if stdio is not None:
            stdio.close()
        if writer is not None:
            writer.close()
    kills = np.asarray(outcome.oom_kill_times, dtype=float)
    # --metric's series as recorded (RSS unless another was asked for): what `gate --trace --metric` judges.
    m = _measurements(outcome.judged_t, outcome.judged, warmup_s, outcome.limit.bytes, None,
                      kills if len(kills) else None, heap_evidence(state, warmup_s), thresholds.min_time_to_limit_s,
                      snapshot_times(state))
    nothing = (f"no sample of the {metric} series was recorded (memory was sampled): nothing to judge"
               if len(outcome.t) and not len(outcome.judged) else "no memory sample was recorded: nothing to judge")
    result = judge(m, thresholds, command=status, baseline=baseline, oom_kill_times=list(kills),
                   nothing_judged=nothing)
    if outcome.result.write_error or (outcome.result.end_reason == "write-error" and outcome.result.error):
        result.notes.append(outcome.result.write_error or outcome.result.error or "")
    if diagnose and output is not None and not result.passed:
        _attach_report(result, output, watchers[0].run if watchers else None, outcome.limit.bytes, warmup_s,
                       metric, forecast_within_s=thresholds.min_time_to_limit_s)
    memory: list[Any] = list(outcome.judged[-2000:])
    return result, title, memory, outcome.result.duration_s


def _attach_report(result: GateResult, trace_path: str, run: Any, limit_bytes: int | None,
                   warmup_s: float = 0.0, metric: str = "rss", input_interval_s: float | None = None,
                   forecast_within_s: float | None = None) -> None:
    """A failing gate's ranked leak report, beside the trace (as `doctor` writes it), named in its notes; its
    diagnosis forecasts over the gate's --max-time-to-limit (FORECAST_WITHIN_S), as the gate's own did."""
    from memdoctor.commands.report import _usable_beside
    from memdoctor.pipelines.doctor import DoctorRun, build_outputs

    if run is None:  # --trace: the snapshots `run --heap-every` (or an earlier doctor) left beside it
        run = DoctorRun(snapshots=_usable_beside(trace_path)[0])
    try:
        out = build_outputs(trace_path, run, limit_bytes, warmup_s=warmup_s, metric=metric,
                            input_interval_s=input_interval_s, forecast_within_s=forecast_within_s)
    except Exception as exc:  # the gate's result stands whatever happens to its report
        result.notes.append(f"--diagnose: the report could not be written: {exc}")
        return
    suspects = out["report"].get("suspects") or []
    result.report = {"html": out["html"], "json": out["json"],
                     "suspects": [{"key": s.get("key"), "bytes_per_min": s.get("bytes_per_min")} for s in suspects]}
    if suspects:
        top = suspects[0]
        what = f"top suspect {top.get('key')}"
    elif run.errors:
        what = run.errors[0]
    elif not run.snapshots:
        what = "no heap snapshots (the diagnosis never said leak while the target ran)"
    else:
        what = "no suspect"
    result.notes.append(f"--diagnose: leak report {out['html']} ({what})")
