"""The live monitor of a recording: the online verdict, its alert, and the live view's cadence.

A monitor thread reads the recorder's shared state. Every couple of seconds it asks the one
diagnosis (analysis.diagnose) about what was recorded so far and passes it through the online
judge (analysis/online.py: a verdict changes only on new evidence); when an alert rule holds
(analysis/alerts.py: a held leak verdict, or floor growth above --max-growth) it stops the
recording and notes the detection delay. In between it has the renderer (report/live.py) redraw
the panel on a TTY or print a plain line every few seconds elsewhere; with --json, nothing.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.text import Text

from memdoctor.analysis import Diagnosis, HeapGrowth, diagnose
from memdoctor.analysis.alerts import Alert, AlertRule, check_alert
from memdoctor.analysis.engine import heap_series_growth
from memdoctor.analysis.online import OnlineJudge, OnlineState
from memdoctor.report.live import panel, plain_line
from memdoctor.sampling.recorder import RecordingState

# The TTY panel is redrawn once a second (its clock shows whole seconds): each redraw costs
# ~1 ms of CPU (cold), under 10 % of what sampling at 10 ms costs. Redrawing a rich Table every 0.25 s
# cost as much CPU as the sampling itself (benchmarks/live_view_cost.py, docs/benchmarks.md).
REFRESH_S = 1.0
# Without an alert rule the online verdict is only shown (panel, plain line, --serve-metrics):
# re-running the analysis every 5 s instead of every 2 s spares ~10 ms of CPU each time, at
# 10 ms sampling ~30 us per sample (benchmarks/watcher_cost.py). Alert rules keep their cadence.
DISPLAY_ANALYZE_EVERY_S = 5.0


def heap_evidence(state: RecordingState, warmup_s: float) -> tuple[HeapGrowth, ...]:
    """The runtime heap recorded so far (V8's used heap at each detail line, `run -- node`) as the diagnosis' heap
    evidence, as `analyze` reads it from the trace: the live line, alerts and the final diagnosis judge what the file
    will hold. None when the heap is itself the series judged (--metric heap)."""
    points = list(state.heap_points)  # a copy: the recorder appends while the monitor reads
    if not points or state.metric == "heap":
        return ()
    ht, hv = zip(*points, strict=True)
    return heap_series_growth(ht, hv, warmup_s=warmup_s, snapshot_times=snapshot_times(state))


def snapshot_times(state: RecordingState) -> np.ndarray | None:
    """When heap snapshots of the target began (doctor's), as the diagnosis takes them; None before any."""
    return np.asarray(state.snapshot_times, dtype=float) if state.snapshot_times else None


def diagnose_so_far(state: RecordingState, *, limit_bytes: int | None, warmup_s: float,
                    oom_kill_times: np.ndarray | None = None) -> Diagnosis | None:
    """The one diagnosis of what the recording holds so far (--metric's series, the heap recorded beside it): the
    live line, doctor's last look at --max-time and the final line ask this, as `analyze` asks the trace. None
    before the judged series has a sample."""
    t, values = state.judged_arrays()
    if not len(t):
        return None
    return diagnose(t, values, limit_bytes=limit_bytes, warmup_s=warmup_s, oom_kill_times=oom_kill_times,
                    heap_growth=heap_evidence(state, warmup_s), snapshot_times=snapshot_times(state))


class LiveMonitor(threading.Thread):
    """Keeps the online verdict (and its alert) while `record()` runs, and has the live view drawn."""

    def __init__(self, state: RecordingState, *, mode: str, console: Console, title: str, duration: float | None,
                 limit_bytes: int | None, alert: AlertRule | None = None, refresh_s: float = REFRESH_S,
                 analyze_every_s: float = 2.0, plain_every_s: float = 5.0, warmup_s: float = 0.0) -> None:
        super().__init__(name="memdoctor-monitor", daemon=True)
        self.state = state
        self.mode = mode  # "tty", "plain" or "off"
        self.console = console
        self.title = title
        self.duration = duration
        self.limit_bytes = limit_bytes
        self.alert_rule = alert
        self.refresh_s = refresh_s
        keep = alert is not None or state.judge_live  # an alert or doctor acts on the verdict: the alert cadence
        self.analyze_every_s = analyze_every_s if keep else max(analyze_every_s, DISPLAY_ANALYZE_EVERY_S)
        self.plain_every_s = plain_every_s
        self.warmup_s = warmup_s
        self.diagnosis: Diagnosis | None = None
        self.online: OnlineState | None = None
        self.alert: Alert | None = None
        # The one engine on the data so far, with hysteresis: a verdict changes only on new evidence.
        self._judge = OnlineJudge()
        self._done = threading.Event()
        self._live: Live | None = None

    # -- analysis -------------------------------------------------------------------------
    def _analyze(self) -> None:
        t, _ = self.state.judged_arrays()  # --metric's series: RSS unless another was asked for
        if len(t) < 20:
            return
        if float(t[-1] - t[0]) < self.warmup_s:
            return
        try:
            diagnosis = diagnose_so_far(self.state, limit_bytes=self.limit_bytes, warmup_s=self.warmup_s)
        except Exception:
            return
        if diagnosis is None:
            return
        self.observe(diagnosis, float(t[-1] - t[0]))

    def observe(self, diagnosis: Diagnosis, elapsed: float) -> None:
        """One more diagnosis of the data so far: the verdict shown (with hysteresis), then the alert rule."""
        self.diagnosis = diagnosis
        self.online = self._judge.update(diagnosis, elapsed)
        self.state.live = self.online  # what doctor's trigger reads (RecordingState.judge_live)
        self._check_alert(elapsed)

    def _check_alert(self, elapsed: float) -> None:
        if self.alert_rule is None or self.online is None or self.alert is not None:
            return
        self.alert = check_alert(self.alert_rule, self.online, elapsed)  # the policy lives in analysis/
        if self.alert is not None:
            self.state.request_stop("alert")

    # -- rendering (report/live.py formats) -------------------------------------------------
    def _elapsed(self) -> float:
        return time.monotonic() - self.state.started_mono if self.state.started_mono else 0.0

    def render(self) -> Text:
        return panel(self.state, self.online, title=self.title, elapsed=self._elapsed(), duration=self.duration,
                     limit_bytes=self.limit_bytes, warmup_s=self.warmup_s)

    def _plain_line(self) -> str:
        return plain_line(self.state, self.online, elapsed=self._elapsed(), warmup_s=self.warmup_s)

    # -- thread ---------------------------------------------------------------------------
    def run(self) -> None:
        next_analysis = time.monotonic() + self.analyze_every_s
        next_plain = time.monotonic() + self.plain_every_s
        if self.mode == "tty":
            self._live = Live(self.render(), console=self.console, auto_refresh=False, transient=True)
            self._live.start()
        try:
            while not self._done.wait(self.refresh_s):
                now = time.monotonic()
                if now >= next_analysis:
                    self._analyze()
                    next_analysis = now + self.analyze_every_s
                if self._live is not None:
                    self._live.update(self.render(), refresh=True)
                elif self.mode == "plain" and now >= next_plain:
                    self.console.print(self._plain_line(), markup=False, highlight=False)
                    next_plain = now + self.plain_every_s
        finally:
            if self._live is not None:
                self._live.stop()

    def finish(self) -> None:
        self._done.set()
        if self.is_alive():
            self.join(timeout=5)
