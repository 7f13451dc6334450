"""The live view of a recording, and the online verdict that can raise an alert.

A monitor thread reads the recorder's shared state a few times a second: on a TTY it redraws
a rich panel (RSS, tree, growth so far, verdict, time to the limit, a sparkline, elapsed and
remaining time); elsewhere it prints a plain line every few seconds; with --json it prints
nothing. Every couple of seconds it re-runs the growth analysis on what was recorded so far;
when an alert rule holds (analysis/alerts.py: a held leak verdict, or floor growth above
--max-growth) it stops the recording and notes the detection delay.
"""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from memdoctor.analysis import Diagnosis, diagnose
from memdoctor.analysis.alerts import Alert, AlertRule, check_alert
from memdoctor.analysis.engine import describe_growth
from memdoctor.analysis.online import OnlineJudge, OnlineState
from memdoctor.sampling.recorder import RecordingState
from memdoctor.units import format_bytes, format_duration

SPARK = "▁▂▃▄▅▆▇█"
# The TTY panel is redrawn once a second (its clock shows whole seconds): each redraw costs
# ~0.5 ms of CPU, under 5 % of what sampling at 10 ms costs. Redrawing a rich Table every 0.25 s
# cost as much CPU as the sampling itself (benchmarks/live_view_cost.py, docs/benchmarks.md).
REFRESH_S = 1.0
# Without an alert rule the online verdict is only shown (panel, plain line, --serve-metrics):
# re-running the analysis every 5 s instead of every 2 s spares ~10 ms of CPU each time, at
# 10 ms sampling ~30 us per sample (benchmarks/watcher_cost.py). Alert rules keep their cadence.
DISPLAY_ANALYZE_EVERY_S = 5.0
LABEL_WIDTH = 9  # the longest label, "elapsed"/"details"/"verdict", and a space


def sparkline(values: list[float], width: int = 40) -> str:
    """A unicode sparkline of `values`, resampled to `width` columns (bucket maxima)."""
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [max(values[int(i * step):max(int((i + 1) * step), int(i * step) + 1)]) for i in range(width)]
    lo, hi = min(values), max(values)
    if hi <= lo:
        return SPARK[0] * len(values)
    scale = (len(SPARK) - 1) / (hi - lo)
    return "".join(SPARK[int((v - lo) * scale)] for v in values)


class LiveMonitor(threading.Thread):
    """Renders progress and evaluates the online verdict while `record()` runs."""

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
        self.analyze_every_s = analyze_every_s if alert is not None else max(analyze_every_s, DISPLAY_ANALYZE_EVERY_S)
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
        series = self.state.series
        if len(series) < 20:
            return
        t, rss = series.arrays()
        if float(t[-1] - t[0]) < self.warmup_s:
            return
        try:
            diagnosis = diagnose(t, rss, limit_bytes=self.limit_bytes, warmup_s=self.warmup_s)
        except Exception:
            return
        self.observe(diagnosis, float(t[-1] - t[0]))

    def observe(self, diagnosis: Diagnosis, elapsed: float) -> None:
        """One more diagnosis of the data so far: the verdict shown (with hysteresis), then the alert rule."""
        self.diagnosis = diagnosis
        self.online = self._judge.update(diagnosis, elapsed)
        self._check_alert(elapsed)

    def _check_alert(self, elapsed: float) -> None:
        if self.alert_rule is None or self.online is None or self.alert is not None:
            return
        self.alert = check_alert(self.alert_rule, self.online, elapsed)  # the policy lives in analysis/
        if self.alert is not None:
            self.state.request_stop("alert")

    # -- rendering ------------------------------------------------------------------------
    def _elapsed(self) -> float:
        return time.monotonic() - self.state.started_mono if self.state.started_mono else 0.0

    def _verdict_text(self) -> str:
        st = self.online
        if st is None:
            return "collecting samples" if not self.warmup_s else f"warm-up ({format_duration(self.warmup_s)})"
        d = st.diagnosis
        if st.watching:
            text = f"watching, floor {describe_growth(d)} so far"
            if st.decide_in_s is not None:
                text += f", can decide in ~{format_duration(st.decide_in_s)}"
        else:
            text = f"{st.shown} ({d.pattern}), floor {describe_growth(d)}"
            if d.verdict != st.shown:
                text += f" (latest: {d.verdict})"
        if d.time_to_limit_s is not None:
            text += f", limit in ~{format_duration(d.time_to_limit_s)}"
        return text

    def render(self) -> Text:
        """The panel as one Text: labelled lines, no table to measure and lay out at each redraw."""
        last = self.state.last
        details = self.state.details
        elapsed = self._elapsed()
        timing = format_duration(elapsed)
        if self.duration:
            left = format_duration(max(0.0, self.duration - elapsed))
            timing += f" of {format_duration(self.duration)} ({left} left)"
        rows: list[tuple[str, str, str]] = [("target", self.title, ""), ("elapsed", timing, "")]
        if last:
            rss_line = f"{format_bytes(last.get('rss'))}"
            if "rss_root" in last:
                rss_line += f"  (root {format_bytes(last['rss_root'])}, {last.get('procs', 1)} process(es))"
            rows.append(("memory", rss_line, ""))
            if self.limit_bytes:
                rows.append(("limit", f"{format_bytes(self.limit_bytes)}, "
                                      f"{100.0 * last.get('rss', 0) / self.limit_bytes:.1f}% used", ""))
        extra = [f"{k} {format_bytes(details[k])}" for k in ("pss", "uss", "swap") if k in details]
        extra += [f"{k} {details[k]}" for k in ("fds", "threads") if k in details]
        if extra:
            rows.append(("details", ", ".join(extra), ""))
        rows.append(("verdict", self._verdict_text(), ""))
        values = list(self.state.series.rss[-400:])
        rows.append(("trend", sparkline(values, 48), "cyan"))
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("memdoctor", style="bold magenta")
        for label, value, style in rows:
            text.append("\n")
            text.append(label.ljust(LABEL_WIDTH), style="bold")
            text.append(value, style=style)
        return text

    def _plain_line(self) -> str:
        last = self.state.last
        parts = [f"memdoctor: {format_duration(self._elapsed())}"]
        if last:
            parts.append(f"rss {format_bytes(last.get('rss'))}")
            if last.get("procs", 1) != 1:
                parts.append(f"{last.get('procs')} procs")
        parts.append(self._verdict_text())
        return " | ".join(parts)

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
