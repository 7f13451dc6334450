"""The recording pipeline shared by `run` and `watch`: source -> trace file -> diagnosis.

The commands parse options into a RecordingPlan and render the RecordingOutcome; everything
between (limit discovery, the trace header, the sampling loop, the live monitor, OOM-kill
detection, the final analysis) lives here.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from memdoctor import __version__
from memdoctor.analysis import Diagnosis
from memdoctor.analysis.alerts import Alert, AlertRule
from memdoctor.analysis.engine import SNAPSHOT_EVENT
from memdoctor.analysis.online import final_disagreement
from memdoctor.pipelines.live import LiveMonitor, diagnose_so_far
from memdoctor.redact import redact_argv
from memdoctor.sampling.limits import MemoryLimit, oom_kill_count, with_override
from memdoctor.sampling.oom import died_of_v8_heap
from memdoctor.sampling.recorder import RecordingResult, RecordingState, record
from memdoctor.sampling.sources import Source
from memdoctor.sampling.target import TargetError, TargetOutput, describe_exit
from memdoctor.traces.writer import TraceWriteError, TraceWriter, as_written
from memdoctor.units import format_bytes, format_duration

# Memory at or above this share of the limit when the target dies by SIGKILL means OOM.
OOM_SHARE = 0.9
# The cgroup's peak is worth a warning when it passes the sampled peak by this much: 25% and
# 32 MiB, more than the page cache a Python or Node program's own start-up reads (~10-20 MiB
# of modules measured here), so a plain run does not warn.
CGROUP_PEAK_NOTE_RATIO = 1.25
CGROUP_PEAK_NOTE_BYTES = 32 << 20


@dataclass
class CommonSettings:
    """The options of `run`, `watch` and `gate`, parsed into seconds and bytes."""

    interval: float
    duration: float | None
    detail_every: float | None
    limit_bytes: int | None
    alert: AlertRule | None
    warmup_s: float = 0.0  # --warmup: the start-up not judged (live verdict, alerts, final diagnosis)
    metric: str = "rss"  # --metric: the series judged (live verdict, alerts, final diagnosis)


@dataclass
class RecordingPlan:
    source: Source
    source_name: str  # "memdoctor run", "memdoctor watch", "memdoctor watch --cgroup"
    title: str  # for the live view
    pid: int | None
    cmdline: list[str]
    runtime: str | None
    interval: float
    duration: float | None
    detail_every: float | None
    limit: MemoryLimit
    limit_overridden: bool
    writer: TraceWriter | None
    live_mode: str  # "tty", "plain", "off"
    console: Any
    child: subprocess.Popen[bytes] | None = None
    alert: AlertRule | None = None
    extra_header: dict[str, Any] = field(default_factory=dict)
    # The shared state of the recording, when the caller wants to stop it (e.g. when a load ends).
    state: RecordingState | None = None
    serve_metrics: str | None = None  # HOST:PORT: watch --serve-metrics
    warmup_s: float = 0.0  # --warmup: the start-up the diagnosis does not judge
    metric: str = "rss"  # --metric: the series the live verdict, alerts and the diagnosis judge


@dataclass
class RecordingOutcome:
    result: RecordingResult
    diagnosis: Diagnosis | None
    trace_path: str | None
    limit: MemoryLimit
    child_exit: str | None
    child_returncode: int | None
    oom_killed: bool
    alert: Alert | None
    peak_bytes: float | None
    last_sample: dict[str, Any]
    warnings: list[str]
    pid: int | None
    cmdline: list[str]
    stopped_by_memdoctor: bool = False
    # The recorded series (thinned past a few hundred thousand samples), for judgements.
    t: np.ndarray = field(default_factory=lambda: np.empty(0))
    rss: np.ndarray = field(default_factory=lambda: np.empty(0))
    # --metric and its series (t, values) as recorded: what the diagnosis judged (RSS: t and rss above).
    metric: str = "rss"
    judged_t: np.ndarray = field(default_factory=lambda: np.empty(0))
    judged: np.ndarray = field(default_factory=lambda: np.empty(0))
    # memdoctor's own CPU time while recording (user + sys, all its threads), in seconds.
    own_cpu_s: float = 0.0
    # When the target (or a process of its cgroup) was OOM-killed, seconds since the start; also
    # a Node.js process that aborted at V8's heap limit. Each is an {"event": "oom_kill"} line.
    oom_kill_times: list[float] = field(default_factory=list)
    # `run` in a memory cgroup of its own: the cgroup's peak charge (memory.peak, v1
    # max_usage_in_bytes), which sees children that lived and died between two samples.
    cgroup_peak_bytes: int | None = None

    @property
    def own_cpu_share(self) -> float:
        """memdoctor's CPU use while recording, as a share of one core."""
        return self.own_cpu_s / self.result.duration_s if self.result.duration_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace": self.trace_path,
            "pid": self.pid,
            "cmdline": redact_argv(self.cmdline),
            "samples": self.result.samples,
            "duration_s": round(self.result.duration_s, 3),
            "end_reason": self.result.end_reason,
            "limit_bytes": self.limit.bytes,
            "limit_source": self.limit.source,
            "peak_bytes": self.peak_bytes,
            "child_exit": self.child_exit,
            "child_returncode": self.child_returncode,
            "oom_killed": self.oom_killed,
            "oom_kill_times": [round(x, 3) for x in self.oom_kill_times],
            "cgroup_peak_bytes": self.cgroup_peak_bytes,
            "alert": None if self.alert is None else {"reason": self.alert.reason,
                                                      "detected_after_s": round(self.alert.detected_after_s, 3),
                                                      "confidence": self.alert.confidence},
            "warnings": self.warnings,
            "metric": self.metric,
            "own_cpu_s": round(self.own_cpu_s, 3),
            "own_cpu_share": round(self.own_cpu_share, 5),
            "diagnosis": self.diagnosis.to_dict() if self.diagnosis else None,
        }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def exited_unsampled(cmd: list[str], ended: str, samples: int = 0) -> TargetError:
    """The one line for a command that exited before a series could be sampled, however that was noticed: before
    its first sample, or after only one (which of the three a quick exit took is the machine's load)."""
    twice = " twice" if samples else ""  # one sample is no series to judge either
    return TargetError(f"{cmd[0]} exited before it could be sampled{twice} ({ended})")


def ended_unsampled(outcome: RecordingOutcome) -> bool:
    """Whether the target ended before it could be sampled twice: one sample is no series to judge (run and watch
    then say so in one line, exit 2, where they had printed "only 1 usable samples" and exit 0)."""
    return outcome.result.samples < 2 and outcome.result.end_reason == "target-exited"


def build_header(plan: RecordingPlan) -> dict[str, Any]:
    header: dict[str, Any] = {
        "pid": plan.pid,
        "cmdline": redact_argv(plan.cmdline),
        "interval_s": plan.interval,
        "limit_bytes": plan.limit.bytes,
        "limit_source": plan.limit.source,
        "started_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "source": plan.source_name,
        "hostname": socket.gethostname(),
        "memdoctor_version": __version__,
    }
    if plan.runtime:
        header["runtime"] = plan.runtime
    if plan.detail_every:
        header["detail_interval_s"] = plan.detail_every
    header.update(plan.extra_header)
    return header


def _oom_killed(plan: RecordingPlan, returncode: int | None, oom_before: int | None, last_rss: float | None) -> bool:
    oom_after = oom_kill_count(plan.limit.cgroup_dir, plan.limit.version)
    counter_rose = oom_before is not None and oom_after is not None and oom_after > oom_before
    if plan.child is not None:
        if died_of_v8_heap(plan.cmdline, plan.runtime, returncode, last_rss):
            return True
        if returncode != -9:
            return False
        near_limit = last_rss is not None and plan.limit.bytes > 0 and last_rss >= OOM_SHARE * plan.limit.bytes
        return counter_rose or near_limit
    # Attached: the exit status is not ours to see; the cgroup counter or memory at the limit tell.
    near = last_rss is not None and plan.limit_overridden is False and last_rss >= OOM_SHARE * plan.limit.bytes
    return counter_rose or (near and plan.limit.source.startswith("cgroup"))


def execute(plan: RecordingPlan) -> RecordingOutcome:
    """Record until the plan's end, then diagnose what was recorded."""
    state = plan.state or RecordingState()
    state.metric = plan.metric
    warnings: list[str] = []
    oom_before = oom_kill_count(plan.limit.cgroup_dir, plan.limit.version)
    if plan.writer is not None:
        plan.writer.write_header(build_header(plan))
    monitor = LiveMonitor(state, mode=plan.live_mode, console=plan.console, title=plan.title,
                          duration=plan.duration, limit_bytes=plan.limit.bytes, alert=plan.alert,
                          warmup_s=plan.warmup_s)
    metrics = None
    if plan.serve_metrics:
        from memdoctor.report.metrics_server import start_metrics_server

        metrics = start_metrics_server(plan.serve_metrics, state, lambda: monitor.online,
                                       limit_bytes=plan.limit.bytes, pid=plan.pid)
    if plan.live_mode != "off" or plan.alert is not None or metrics is not None or state.judge_live:
        monitor.start()
    cpu_before = _own_cpu()
    try:
        result = record(plan.source, plan.writer, interval=plan.interval, duration=plan.duration,
                        detail_every=plan.detail_every, state=state)
    finally:
        monitor.finish()
        if metrics is not None:
            metrics.close()
    own_cpu = _own_cpu() - cpu_before
    if plan.writer is not None:
        # When doctor's heap snapshots began, for every later reader of the file (analyze, report, gate --trace):
        # the diagnosis judges the series up to the first (analysis.engine.SNAPSHOT_EVENT).
        for at in list(state.snapshot_times):
            try:
                plan.writer.write_sample({"t": as_written(at), "event": SNAPSHOT_EVENT})
            except TraceWriteError as exc:
                warnings.append(str(exc))
                break
    returncode = plan.child.poll() if plan.child is not None else None
    t, rss = state.series.arrays()
    last_rss = float(rss[-1]) if len(rss) else None
    oom = False
    if result.end_reason == "target-exited":
        if plan.child is not None:
            try:
                returncode = plan.child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                returncode = None
        oom = _oom_killed(plan, returncode, oom_before, last_rss)
        seen_during = any(name == "oom_kill" for _, name in result.events)
        if oom and plan.writer is not None and not seen_during:
            elapsed = float(t[-1]) if len(t) else 0.0
            try:
                plan.writer.write_sample({"t": as_written(elapsed), "event": "oom_kill"})
            except TraceWriteError as exc:
                warnings.append(str(exc))
    oom_times = [at for at, name in result.events if name == "oom_kill"]
    if oom and not oom_times:
        oom_times.append(float(t[-1]) if len(t) else 0.0)
    oom = oom or bool(oom_times)
    if result.error:
        warnings.append(result.error)
    denied: set[str] = getattr(plan.source, "denied", set())
    if "smaps" in denied:
        warnings.append("PSS/USS/swap not readable for this process (needs the same user or root)")
    if "fds" in denied:
        warnings.append("file descriptors not readable for this process (needs the same user or root)")
    jt, judged = state.judged_arrays()
    if len(t) and not len(jt):
        warnings.append(f"--metric {plan.metric}: no sample of that series was recorded, nothing to judge"
                        + (" (heap is V8's, of Node.js processes)" if plan.metric == "heap" else ""))
    diagnosis = diagnose_so_far(state, limit_bytes=plan.limit.bytes, warmup_s=plan.warmup_s,
                                oom_kill_times=np.asarray(oom_times) if oom_times else None)
    if diagnosis is not None:
        # The samples ever recorded, not those the live series kept (it thins past ~50,000).
        count = state.series.count if plan.metric == "rss" or state.judged is None else state.judged.count
        if count != diagnosis.samples and not plan.warmup_s:
            diagnosis = replace(diagnosis, samples=count)
        disagreement = final_disagreement(monitor.online, diagnosis)
        if disagreement:
            warnings.append(disagreement)
    return RecordingOutcome(
        result=result,
        diagnosis=diagnosis,
        trace_path=os.path.abspath(plan.writer.path) if plan.writer is not None else None,
        limit=plan.limit,
        child_exit=describe_exit(returncode) if plan.child is not None else None,
        child_returncode=returncode,
        oom_killed=oom,
        alert=monitor.alert,
        peak_bytes=float(rss.max()) if len(rss) else None,
        last_sample=dict(state.last),
        warnings=warnings,
        pid=plan.pid,
        cmdline=plan.cmdline,
        t=t,
        rss=rss,
        metric=plan.metric,
        judged_t=jt,
        judged=judged,
        own_cpu_s=own_cpu,
        oom_kill_times=oom_times,
    )


def record_command(
    cmd: list[str],
    settings: CommonSettings,
    *,
    writer: TraceWriter | None,
    live_mode: str,
    console: Any,
    pss: bool = False,
    follow_children: bool = True,
    grace_s: float = 5.0,
    source_name: str = "memdoctor run",
    on_start: Any = None,
    state: RecordingState | None = None,
    own_cgroup: bool = True,
    output: TargetOutput | None = None,
) -> RecordingOutcome:
    """Launch `cmd`, record it until it exits or the duration ends, stop its process group.

    With `own_cgroup` (and the rights to), the command runs in a memory cgroup of its own whose
    peak and OOM kills are reported (sampling/run_cgroup.py); otherwise a warning says that
    short-lived children may be missed.

    `on_start(child)` runs once the command is being sampled (the gate starts its load there);
    what it returns is called with no argument when the recording ends.
    """
    from memdoctor.sampling.backend import open_process_tree
    from memdoctor.sampling.limits import discover_limit_for_pid
    from memdoctor.sampling.procfs import ProcessAccessDenied, ProcessGone
    from memdoctor.sampling.run_cgroup import create_run_cgroup
    from memdoctor.sampling.sources import ProcessTreeSource
    from memdoctor.sampling.target import detect_runtime, launch, stop_process_group

    # V8's heap beside RSS for Node.js processes of the tree (sampling/node_heap.py); a Python
    # command is left as it is (its heap is the snapshots' business).
    heap_channel = None
    no_heap_channel = None
    if detect_runtime(cmd) != "python":
        from memdoctor.errors import MemdoctorError
        from memdoctor.sampling.node_heap import NodeHeapChannel

        try:
            heap_channel = NodeHeapChannel()
        except (OSError, MemdoctorError) as exc:  # no private directory for it: record without, and say so
            no_heap_channel = f"no V8 heap series for Node.js processes: {exc}"
    run_cgroup, no_cgroup = create_run_cgroup() if own_cgroup else (None, "not asked for")
    try:
        child = launch(cmd, run_cgroup.move_self if run_cgroup is not None else None, output,
                       env=heap_channel.environment() if heap_channel else None,
                       pass_fds=(heap_channel.fd,) if heap_channel else ())
    except BaseException:
        if run_cgroup is not None:
            run_cgroup.remove()
        if heap_channel is not None:
            heap_channel.close()
        raise
    if run_cgroup is not None:
        run_cgroup.close_procs()
        if not run_cgroup.holds(child.pid) and child.poll() is None:
            run_cgroup.remove(wait_s=0)
            run_cgroup, no_cgroup = None, "the command could not be moved into its cgroup"
    cleanup = None
    try:
        try:
            tree = open_process_tree(child.pid, follow_children=follow_children)
        except (ProcessGone, ProcessAccessDenied):
            child.wait()
            ended = describe_exit(child.returncode)
            raise exited_unsampled(cmd, ended) from None
        limit = with_override(discover_limit_for_pid(child.pid), settings.limit_bytes)
        overridden = settings.limit_bytes is not None
        plan = RecordingPlan(
            source=ProcessTreeSource(tree, child=child, pss_every_sample=pss,
                                     heap=heap_channel.latest if heap_channel else None),
            source_name=source_name,
            title=f"PID {child.pid} {' '.join(redact_argv(cmd))[:70]}",
            pid=child.pid,
            cmdline=list(cmd),
            runtime=detect_runtime(cmd),
            interval=settings.interval,
            duration=settings.duration,
            detail_every=settings.detail_every,
            limit=limit,
            limit_overridden=overridden,
            writer=writer,
            live_mode=live_mode,
            console=console,
            child=child,
            alert=settings.alert,
            state=state,
            warmup_s=settings.warmup_s,
            metric=settings.metric,
        )
        if run_cgroup is not None:
            # Kills of any process of the command's own cgroup are events as they happen.
            from memdoctor.sampling.cgroup import CgroupError, CgroupSampler

            try:
                oom_watch = CgroupSampler(run_cgroup.path)
                oom_watch.new_oom_events()
                plan.source.events = oom_watch.new_oom_events  # type: ignore[attr-defined]
            except CgroupError:
                pass
        if on_start is not None:
            cleanup = on_start(child)
        outcome = execute(plan)
    finally:
        if cleanup is not None:
            cleanup()
        stop_process_group(child, grace_s)
        if heap_channel is not None:
            heap_channel.close()
        if run_cgroup is not None:
            peak = run_cgroup.peak_bytes()
            if not run_cgroup.remove():
                no_cgroup = f"{run_cgroup.path} still holds processes that left the command's group: kept"
    if no_heap_channel is not None:
        outcome.warnings.append(no_heap_channel)
    if run_cgroup is not None:
        outcome.cgroup_peak_bytes = peak
        sampled = outcome.peak_bytes or 0.0
        if peak is not None and peak > sampled * CGROUP_PEAK_NOTE_RATIO + CGROUP_PEAK_NOTE_BYTES:
            outcome.warnings.append(
                f"the command's cgroup peaked at {format_bytes(peak)}, above the {format_bytes(sampled)} sampled: "
                "processes that lived between two samples, or page cache it read or wrote (the cgroup counts both)")
    elif follow_children:
        outcome.warnings.append(f"short-lived child processes may be missed: memory is sampled every "
                                f"{format_duration(settings.interval)} and the command has no cgroup of its own "
                                f"({no_cgroup})")
    if no_cgroup and run_cgroup is not None:
        outcome.warnings.append(no_cgroup)
    if outcome.result.end_reason != "target-exited":
        # We stopped it: report how it ended after our SIGTERM (and SIGKILL, if it needed one).
        outcome.child_returncode = child.returncode
        outcome.child_exit = f"stopped by memdoctor at the end, {describe_exit(child.returncode)}"
        outcome.stopped_by_memdoctor = True
    return outcome


def attach_plan(
    pid: int,
    settings: CommonSettings,
    *,
    writer: TraceWriter | None,
    live_mode: str,
    console: Any,
    pss: bool = False,
    follow_children: bool = True,
    source_name: str = "memdoctor watch",
    state: RecordingState | None = None,
) -> RecordingPlan:
    """A plan to record a running process (and its descendants) by PID."""
    from memdoctor.sampling.backend import open_process_tree
    from memdoctor.sampling.limits import discover_limit_for_pid
    from memdoctor.sampling.procfs import ProcessAccessDenied, ProcessGone
    from memdoctor.sampling.sources import ProcessTreeSource
    from memdoctor.sampling.target import describe

    info = describe(pid)
    try:
        tree = open_process_tree(pid, follow_children=follow_children)
    except ProcessGone:
        raise TargetError(f"no process with PID {pid}: it exited") from None
    except ProcessAccessDenied:
        raise TargetError(f"cannot read process {pid}: permission denied; run memdoctor as its user or root") from None
    limit = with_override(discover_limit_for_pid(pid), settings.limit_bytes)
    return RecordingPlan(
        source=ProcessTreeSource(tree, pss_every_sample=pss), source_name=source_name,
        title=f"PID {pid} {' '.join(redact_argv(info.cmdline))[:70]}", pid=pid, cmdline=info.cmdline,
        runtime=info.runtime,
        interval=settings.interval, duration=settings.duration, detail_every=settings.detail_every, limit=limit,
        limit_overridden=settings.limit_bytes is not None, writer=writer, live_mode=live_mode, console=console,
        alert=settings.alert, state=state, warmup_s=settings.warmup_s, metric=settings.metric,
    )
