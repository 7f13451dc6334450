"""The live monitor: sparklines, and alerts that wait for a verdict to persist."""

from rich.console import Console

from memdoctor.analysis import Diagnosis
from memdoctor.report.live import AlertRule, LiveMonitor, sparkline
from memdoctor.sampling.recorder import RecordingState


def _diagnosis(verdict: str, confidence: float = 0.95, growth: float = 1e6) -> Diagnosis:
    return Diagnosis(verdict=verdict, pattern="linear" if verdict == "leak" else "stable", growth_bytes_per_s=growth,
                     limit_bytes=None, time_to_limit_s=None, samples=100, duration_s=10.0, confidence=confidence)


def _monitor(rule: AlertRule) -> LiveMonitor:
    return LiveMonitor(RecordingState(), mode="off", console=Console(file=open("/dev/null", "w")), title="t",
                       duration=None, limit_bytes=None, alert=rule)


def test_sparkline():
    assert sparkline([]) == ""
    assert sparkline([1, 1, 1]) == "▁▁▁"
    line = sparkline(list(range(100)), width=10)
    assert len(line) == 10 and line[0] == "▁" and line[-1] == "█"


def test_alert_needs_a_persistent_confident_verdict():
    monitor = _monitor(AlertRule(on_leak=True, persist=3))
    for verdict in ("leak", "leak", "no-leak", "leak", "leak"):
        monitor.diagnosis = _diagnosis(verdict)
        monitor._check_alert(10.0)
    assert monitor.alert is None  # the streak was broken
    monitor.diagnosis = _diagnosis("leak")
    monitor._check_alert(12.0)
    assert monitor.alert is not None and monitor.alert.detected_after_s == 12.0
    assert monitor.state.stop_reason == "alert"


def test_alert_ignores_unconfident_verdicts_and_warmup():
    monitor = _monitor(AlertRule(on_leak=True, persist=1, min_time_s=5.0))
    monitor.diagnosis = _diagnosis("leak")
    monitor._check_alert(4.0)
    assert monitor.alert is None
    monitor.diagnosis = _diagnosis("leak", confidence=0.5)
    monitor._check_alert(6.0)
    assert monitor.alert is None
    monitor.diagnosis = _diagnosis("leak")
    monitor._check_alert(8.0)
    assert monitor.alert is not None


def test_max_growth_alert():
    monitor = _monitor(AlertRule(max_growth_bytes_per_s=1000.0, persist=2))
    monitor.diagnosis = _diagnosis("no-leak", growth=500.0)
    monitor._check_alert(1.0)
    monitor.diagnosis = _diagnosis("leak", growth=5000.0)
    monitor._check_alert(2.0)
    monitor._check_alert(3.0)
    assert monitor.alert is not None and "max-growth" in monitor.alert.reason


def test_live_series_stays_bounded_and_keeps_floor_and_peaks():
    from memdoctor.sampling.series import LiveSeries

    series = LiveSeries(max_points=1000)
    for i in range(20_000):
        value = 1e6 + (i % 97) * 10.0
        if i == 12_345:
            value = 5e9  # a peak
        if i == 17_777:
            value = 3.0  # a trough
        series.append(i * 0.01, value)
    t, rss = series.arrays()
    assert series.count == 20_000 and series.thinned
    assert len(t) <= 2000
    assert rss.max() == 5e9 and rss.min() == 3.0
    assert (t[1:] > t[:-1]).all()


def test_panel_shows_every_row_as_plain_text():
    """The TTY panel is one rich Text (cheap to redraw once a second): every row, the sparkline included."""
    state = RecordingState()
    state.fields = ("rss_root", "procs")
    state.last_values = (50 << 20, 40 << 20, 2)
    state.details = {"pss": 1 << 20, "fds": 4, "threads": 2}
    for i in range(100):
        state.series.append(i * 0.01, 50e6 + i * 1e5)
    monitor = LiveMonitor(state, mode="tty", console=Console(), title="PID 1 python3 x.py", duration=10.0,
                          limit_bytes=1 << 30)
    console = Console(width=100, record=True, force_terminal=False)
    console.print(monitor.render())
    lines = console.export_text().splitlines()
    assert lines[0] == "memdoctor"
    labels = [line.split()[0] for line in lines[1:]]
    assert labels == ["target", "elapsed", "memory", "limit", "details", "verdict", "trend"]
    assert "root 40.0 MiB, 2 process(es)" in lines[3]
    assert lines[-1].split()[1][0] == "▁" and lines[-1].split()[1][-1] == "█"
