"""The live monitor: sparklines, the online verdict (one engine, with hysteresis) and its alerts."""

from rich.console import Console

from memdoctor.analysis import Diagnosis
from memdoctor.analysis.alerts import AlertRule
from memdoctor.pipelines.live import LiveMonitor
from memdoctor.report.live import sparkline
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


def test_alert_waits_for_the_verdict_to_hold():
    # Issue 20: "run --alert" stopped a healthy service 8 s in on one leak verdict. A verdict is shown (and
    # alerted on) only when it held for 3 analyses and for a third of the time watched (at least 30 s).
    monitor = _monitor(AlertRule(on_leak=True))
    for elapsed in (8.0, 10.0, 12.0, 14.0):
        monitor.observe(_diagnosis("leak"), elapsed)
    assert monitor.alert is None and monitor.online.watching and monitor.online.decide_in_s > 0
    monitor.observe(_diagnosis("no-leak"), 16.0)  # new evidence restarts the hold
    for elapsed in range(18, 48, 2):
        monitor.observe(_diagnosis("leak"), float(elapsed))
    assert monitor.alert is None
    monitor.observe(_diagnosis("leak"), 48.0)
    assert monitor.alert is not None and monitor.alert.detected_after_s == 48.0
    assert monitor.state.stop_reason == "alert"


def test_shown_verdict_changes_only_on_new_evidence():
    from memdoctor.analysis.online import OnlineJudge

    judge = OnlineJudge()
    shown = [judge.update(_diagnosis(v), float(e)).shown
             for e, v in enumerate(["no-leak"] * 40 + ["inconclusive"] * 5 + ["leak"] * 2 + ["no-leak"] * 3)]
    # no-leak once it held 30 s; an undecided stretch or two leak analyses do not flip it.
    assert shown[:30] == ["watching"] * 30 and set(shown[30:]) == {"no-leak"}


def test_alert_ignores_the_warmup():
    monitor = _monitor(AlertRule(on_leak=True, min_time_s=100.0))
    for elapsed in range(0, 100, 2):
        monitor.observe(_diagnosis("leak"), float(elapsed))
    assert monitor.alert is None and monitor.online.shown == "leak"
    monitor.observe(_diagnosis("leak"), 100.0)
    assert monitor.alert is not None


def test_max_growth_alert():
    monitor = _monitor(AlertRule(max_growth_bytes_per_s=1000.0))
    for elapsed in range(0, 40, 2):
        monitor.observe(_diagnosis("no-leak", growth=500.0), float(elapsed))
    assert monitor.alert is None and monitor.online.shown == "no-leak"
    monitor.observe(_diagnosis("leak", growth=5000.0), 40.0)
    assert monitor.alert is None  # one analysis is not new evidence enough
    for elapsed in range(42, 200, 2):
        monitor.observe(_diagnosis("leak", growth=5000.0), float(elapsed))
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
