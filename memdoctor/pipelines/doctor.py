"""`memdoctor doctor`: watch a target, and once the live verdict shows leak (or memory crosses a
--snapshot-at share of the limit) take three heap snapshots spaced so the leak grows measurably
between them, diff them and build one report with the caps. At --max-time, a watch whose whole diagnosis says leak
(the one the report heads with) gets its snapshots then. Nothing here judges the series: the
verdict and the growth rate come from memdoctor.analysis.diagnose, held as the live view and
--alert hold it (analysis.online.OnlineJudge). `gate --diagnose` triggers on the gate's own rule
instead: one diagnosis of the window so far, as the gate judges its whole window.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memdoctor.analysis.thresholds import ONLINE_MIN_HOLD_S
from memdoctor.sampling.recorder import RecordingState
from memdoctor.units import format_duration

if TYPE_CHECKING:
    from memdoctor.analysis.diagnosis import Diagnosis
    from memdoctor.analysis.online import OnlineState

# How often the watcher asks the diagnosis for a verdict: cheap (a few thousand samples), and a
# few seconds of delay before the capture does not matter next to the spacing of the snapshots.
CHECK_EVERY_S = 2.0
# Snapshot spacing: the heap should grow by this share between two snapshots (3 % of the heap is
# far above the few-KiB noise of a healthy process seen in the runs), clamped so a fast
# leak still gets distinct snapshots and a slow one does not keep the user waiting for hours.
GROWTH_SHARE_BETWEEN_SNAPSHOTS = 0.03
MIN_SPACING_S = 3.0
MAX_SPACING_S = 60.0
SNAPSHOTS = 3
# How near the limit must be for doctor not to wait for the live verdict: the least hold a live leak needs
# (thresholds.ONLINE_MIN_HOLD_S) plus the snapshots' own time at the closest spacing. Nearer than that, waiting
# could leave no snapshot before the OOM (the Node dead-letter-queue incident under --limit 512MB: a 5 %
# slowdown after its start-up burst kept the live verdict "watching" until 15 s before the limit).
NO_TIME_TO_WAIT_S = ONLINE_MIN_HOLD_S + SNAPSHOTS * MIN_SPACING_S


@dataclass
class DoctorRun:
    """What the watcher thread did, for the report and the JSON."""

    snapshots: list[str] = field(default_factory=list)
    trigger: str | None = None
    trigger_at_s: float | None = None
    spacing_s: float | None = None
    errors: list[str] = field(default_factory=list)


def snapshot_spacing(growth_bytes_per_s: float, heap_bytes: float) -> float:
    """Seconds between snapshots for the leak to grow GROWTH_SHARE_BETWEEN_SNAPSHOTS of the heap."""
    if growth_bytes_per_s <= 0 or heap_bytes <= 0:
        return MAX_SPACING_S
    wanted = GROWTH_SHARE_BETWEEN_SNAPSHOTS * heap_bytes / growth_bytes_per_s
    return max(MIN_SPACING_S, min(MAX_SPACING_S, wanted))


class LeakTrigger:
    """When doctor's snapshots are due on the judged series so far: the one diagnosis of it, through the live
    view's online judge (held=True) or alone (held=False, gate --diagnose). Pure: the caller passes the series
    every CHECK_EVERY_S."""

    def __init__(self, *, limit_bytes: int | None, warmup_s: float, held: bool) -> None:
        from memdoctor.analysis.online import OnlineJudge

        self.limit_bytes = limit_bytes
        self.warmup_s = warmup_s
        self.held = held
        self.judge = OnlineJudge()

    def update(self, t: Any, values: Any) -> tuple[str | None, Diagnosis]:
        """(the trigger's reason or None, the diagnosis of the series so far)."""
        import numpy as np

        from memdoctor.analysis import diagnose
        from memdoctor.analysis.online import levelling_off

        t, values = np.asarray(t, dtype=float), np.asarray(values, dtype=float)
        diagnosis = diagnose(t, values, limit_bytes=self.limit_bytes, warmup_s=self.warmup_s)
        if self.held:
            return self.decide(self.judge.update(diagnosis, float(t[-1] - t[0]))), diagnosis
        elif diagnosis.verdict == "leak" and not levelling_off(diagnosis):
            # A leak whose floor levels off is a fill or a start-up, not yet a leak (the live view's rule).
            return f"the diagnosis says leak ({diagnosis.pattern})", diagnosis
        return None, diagnosis

    @staticmethod
    def decide(online: OnlineState) -> str | None:
        """doctor's rule on the live verdict (the live monitor's, or this trigger's own judge in a replay)."""
        # The live view's rule (analysis.online): a leak is shown once it has held over new evidence, and never
        # while its floor levels off. Judged on each diagnosis alone, a healthy Node server under CPU contention
        # read "leak (linear)" at 15 s (RSS 45 -> 90 MiB with no GC for 7 s as V8 sized its heap; CI, three test
        # workers beside a benchmark: tests/data/live/node_healthy_server_startup_under_load_15s.jsonl) and took
        # its snapshots on that ramp.
        d = online.diagnosis
        if online.shown == "leak":
            return f"the diagnosis says leak ({(online.shown_diagnosis or d).pattern})"
        latest = (d.time_to_limit_range_s or (None, None))[1]
        if d.verdict == "leak" and latest is not None and latest <= NO_TIME_TO_WAIT_S:
            return (f"the diagnosis says leak ({d.pattern}) with the limit {format_duration(latest)} away at the "
                    "latest: too near to wait for the live verdict")
        return None


class Watcher:
    """A daemon thread beside the recording: judges, captures, then stops the recording."""

    def __init__(self, state: RecordingState, pid: int, *, limit_bytes: int | None, prefix: str,
                 shares: list[float], max_time_s: float, say: Callable[[str], None],
                 stop_recording: bool = True, warmup_s: float = 0.0, held: bool = True) -> None:
        self.state = state
        self.pid = pid
        self.limit_bytes = limit_bytes
        self.prefix = prefix
        self.shares = shares
        self.max_time_s = max_time_s
        self.warmup_s = warmup_s  # --warmup: the diagnosis does not judge the start, as everywhere else
        self.say = say
        self.stop_recording = stop_recording  # doctor: stop once captured; gate --diagnose: the gate's duration rules
        # doctor: a leak once the live verdict shows it (held over new evidence, as the live view and --alert do);
        # gate --diagnose (False): once one diagnosis of the data so far says leak, the gate's rule for its window,
        # whose end the snapshots must come before (a 25 s gate is shorter than the live verdict's 30 s hold).
        self.held = held
        self.run = DoctorRun()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memdoctor-doctor", daemon=True)

    def start(self) -> Callable[[], None]:
        self._thread.start()
        return self.stop

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=MAX_SPACING_S * SNAPSHOTS + 120)

    def _loop(self) -> None:
        try:
            self._watch()
        except Exception as exc:  # the recording must end and report, whatever happened here
            self.run.errors.append(f"doctor: {exc}")
            self.state.request_stop("doctor")

    def _watch(self) -> None:
        from memdoctor.analysis.thresholds import MIN_SAMPLES

        # doctor reads the live monitor's verdict, the one its panel shows (RecordingState.judge_live): a judge
        # of its own, on other prefixes at another cadence, disagreed with the panel by up to 56 s on slow leaks
        # under a sawtooth (one no-leak between leaks restarts a hold; a helper's review, 2026-12-06). Only
        # without it (gate --diagnose, or no live monitor) does the watcher judge the series itself.
        from_live = self.held and self.state.judge_live
        trigger_on = None if from_live else LeakTrigger(limit_bytes=self.limit_bytes, warmup_s=self.warmup_s,
                                                        held=self.held)
        seen = None
        while not self._stop.wait(CHECK_EVERY_S):
            t, rss = self.state.series.arrays()
            if len(t) < 3:
                continue
            elapsed = float(t[-1])
            jt, judged = self.state.judged_arrays()  # --metric's series: RSS unless another was asked for
            trigger, diagnosis = None, None
            if elapsed >= self.max_time_s:  # whatever the judged series holds (none yet, or none ever)
                trigger, diagnosis = self._last_look(jt)
                if trigger is None:
                    if self.stop_recording:
                        self.state.request_stop("max-time")
                    return
            elif from_live:
                online = self.state.live  # None until the monitor judges (after the warm-up and 20 samples)
                if online is not None:
                    diagnosis = online.diagnosis
                    if online is not seen:  # each verdict once: a new analysis is a new look
                        seen = online
                        trigger = LeakTrigger.decide(online)
            elif trigger_on is not None:
                if len(jt) < 3:
                    continue
                if self.warmup_s > 0 and self._samples_past_warmup(jt) < MIN_SAMPLES:
                    continue  # nothing is judged until the warm-up is past (the engine judges a short rest whole)
                trigger, diagnosis = trigger_on.update(jt, judged)
            if trigger is None and self.limit_bytes and self.shares:
                crossed = [s for s in self.shares if float(rss[-1]) >= s * self.limit_bytes]
                if crossed:
                    trigger = f"memory crossed {max(crossed):.0%} of the limit"
            if trigger is None:
                continue
            self.run.trigger, self.run.trigger_at_s = trigger, elapsed
            growth = diagnosis.growth_bytes_per_s if diagnosis is not None else 0.0
            spacing = snapshot_spacing(growth, float(judged[-1]) if len(judged) else float(rss[-1]))
            self.run.spacing_s = spacing
            self.say(f"doctor: {trigger} after {elapsed:.0f}s; taking {SNAPSHOTS} heap snapshots "
                     f"{spacing:.0f}s apart")
            # Marked before the first capture begins: what the snapshots add to the process is no part of its growth
            # (analysis.engine's SNAPSHOT_EVENT), and every diagnosis of the series judges it up to here. doctor only:
            # its trigger is the held live verdict, and its recording ends with the snapshots. gate --diagnose's
            # trigger is not held (it can fire 8 s into a start-up climb) and its window goes on to its own end: cut
            # there, a healthy cache fill was judged on its first 8 s and failed "leak, 1.3 MiB/s" (a helper's review,
            # 2026-12-08); its snapshots' memory stays in its window, as before.
            if self.held and self.stop_recording:
                self.state.snapshot_times.append(elapsed)
            self._capture(spacing)
            if self.stop_recording:
                self.state.request_stop("doctor")
            return

    def _samples_past_warmup(self, jt: Any) -> int:
        import numpy as np

        return int((np.asarray(jt) >= float(jt[0]) + self.warmup_s).sum()) if len(jt) else 0

    def _last_look(self, jt: Any) -> tuple[str | None, Diagnosis | None]:
        """doctor at --max-time: the diagnosis of the whole watch, the one its final line and report give. When that
        says leak, the snapshots are taken now, as the report will head "leak" and should say what holds it. The live
        verdict can stay "watching" for a whole watch on a leak: its halves' rates of a 3.8 MiB/s Python queue leak
        were 3.85 then 3.72 MiB/s under CPU load (beyond their bands: "a fill may be levelling off"), so a 90 s doctor
        run in CI ended "leak" with no snapshot and no suspect (tests/data/live/python_dead_letter_queue_slowing_
        under_load_90s.jsonl). gate --diagnose has no last look: its window is over at its end. Like the live
        verdict, it judges nothing inside --warmup (the engine would judge a short rest whole, the start-up the user
        left out). Unlike the live verdict it takes a leak whose growth is slowing down (that recording's is): the
        report heads "leak" on it either way, and a short --max-time on a start-up climb gets snapshots of it."""
        from memdoctor.analysis.thresholds import MIN_SAMPLES
        from memdoctor.pipelines.live import diagnose_so_far

        if not (self.held and self.stop_recording) or self._samples_past_warmup(jt) < MIN_SAMPLES:
            return None, None
        diagnosis = diagnose_so_far(self.state, limit_bytes=self.limit_bytes, warmup_s=self.warmup_s)
        if diagnosis is None or diagnosis.verdict != "leak":
            return None, None
        return f"the diagnosis of the whole watch says leak ({diagnosis.pattern}) at --max-time", diagnosis

    def _capture(self, spacing: float) -> None:
        from memdoctor.heap.detect import runtime_of_pid
        from memdoctor.heap.runtimes import CaptureOptions, HeapError, capture_series, numbered_paths

        try:
            runtime = runtime_of_pid(self.pid)
            paths = numbered_paths(self.prefix + (".heapsnapshot" if runtime == "node" else ".snap"), SNAPSHOTS)
            capture_series(runtime, self.pid, paths, every_s=spacing, options=CaptureOptions(),
                           on_written=lambda meta: self.run.snapshots.append(paths[len(self.run.snapshots)]))
        except (HeapError, OSError) as exc:
            self.run.errors.append(f"heap snapshots failed (the target was left running): {exc}")


def snapshot_prefix(trace_path: str) -> str:
    return trace_path[:-6] if trace_path.endswith(".jsonl") else trace_path


def build_outputs(trace_path: str, run: DoctorRun, limit_bytes: int | None,
                  warmup_s: float = 0.0, metric: str = "rss", input_interval_s: float | None = None,
                  forecast_within_s: float | None = None) -> dict[str, Any]:
    """The report (dict, terminal text) and the HTML/JSON files beside the trace. FORECAST_WITHIN_S: a gate's
    --max-time-to-limit (`gate --diagnose`), the horizon of the diagnosis' forecast (engine.diagnose)."""
    from memdoctor.commands.report import _write, build, render

    report, plots = build(trace_path, run.snapshots if len(run.snapshots) >= 2 else [], limit_bytes,
                          want_plots=True, warmup_s=warmup_s, metric=metric, input_interval_s=input_interval_s,
                          forecast_within_s=forecast_within_s)
    report.setdefault("notes", []).extend(run.errors)
    base = trace_path[:-6] if trace_path.endswith(".jsonl") else trace_path
    html_path, json_path = base + ".report.html", base + ".report.json"
    _write(html_path, render(report, plots, "html"), private=True)
    _write(json_path, render(report, {}, "json"), private=True)
    return {"report": report, "terminal": render(report, {}, "terminal"),
            "html": os.path.abspath(html_path), "json": os.path.abspath(json_path)}


