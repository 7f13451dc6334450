"""How a recording stops (memdoctor/sampling/recorder.py): a stop asked during the wait for the end of the
duration, a second stop signal while the summary is written, detail lines on their own grid. Found by an
adversarial review of the C tick loop (2026-12-04); each test fails on the code before it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from memdoctor.sampling.recorder import RecordingState, next_on_grid, record

from .conftest import ROOT, cli_env


class _Flat:
    """A source that always reads 1 MiB (no process needed: the loop's timing is what is tested)."""

    fields = ("rss_root", "procs")
    fast = True

    def values(self, now: float) -> tuple:
        return (1 << 20, 1 << 20, 1)

    def details(self) -> dict:
        return {}

    def close(self) -> None:
        pass


def test_a_stop_during_the_wait_for_the_end_of_the_duration_ends_it():
    """`watch --interval 10s --duration 8s`: the next tick lies past the end, so the loop waits for the end;
    Ctrl-C (its handler only sets a flag) waited the whole remaining time, up to an interval."""
    state = RecordingState()

    def ctrl_c() -> None:  # what the signal handler does
        state.stop_reason = "interrupted"
        state.stopping = True

    timer = threading.Timer(0.3, ctrl_c)
    timer.start()
    try:
        result = record(_Flat(), None, interval=60.0, duration=30.0, detail_every=None, state=state)
    finally:
        timer.cancel()
    assert result.end_reason == "interrupted"
    assert result.duration_s < 15.0  # stopped, not waited out to the 30 s end


@pytest.mark.integration
def test_a_second_stop_signal_while_the_summary_is_written_is_absorbed_and_a_third_acts():
    """A SIGTERM a few ms after the first Ctrl-C came after the recording had put the previous handlers back,
    and killed memdoctor before its summary (21 runs in 24 with the C loop, which stops within 1 ms)."""
    code = textwrap.dedent("""
        import os, signal, sys
        from memdoctor.sampling.recorder import RecordingState, record
        class Flat:
            fields = ("rss_root", "procs"); fast = True
            def values(self, now): return (1, 1, 1)
            def details(self): return {}
            def close(self): pass
        record(Flat(), None, interval=0.01, duration=0.05, detail_every=None, state=RecordingState())
        os.kill(os.getpid(), signal.SIGTERM)  # lands while the summary would be written
        print("summary", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # someone insists: the default action
        print("not reached", flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=cli_env(),
                          cwd=ROOT)
    assert proc.stdout.split() == ["summary"], (proc.returncode, proc.stdout, proc.stderr[-500:])
    assert proc.returncode == -15


def test_detail_lines_stay_on_their_own_grid():
    assert next_on_grid(1.0, 1.0, 1.004) == 2.0  # a detail line taken one tick late does not move the next
    assert next_on_grid(1.0, 1.0, 3.5) == 4.0  # a stall skips to the next point, never bunches
    assert next_on_grid(0.0, 0.5, 0.0) == 0.5


def _exiting_source(monkeypatch, lives_s: float):
    """A source whose target exits `lives_s` into the recording, on a deterministic clock (the sleeps advance it)."""
    from memdoctor.sampling import recorder
    from memdoctor.sampling.sources import TargetGone

    clock = [1000.0]
    monkeypatch.setattr(recorder.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(recorder.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    exits_at = clock[0] + lives_s

    class _Exits(_Flat):
        def gone(self) -> bool:
            return clock[0] >= exits_at

        def values(self, now: float) -> tuple:
            if now >= exits_at:
                raise TargetGone()
            return super().values(now)

    class _Event:  # the wait for the end of the duration, on the same clock
        def wait(self, s: float) -> bool:
            clock[0] += s
            return False

    state = RecordingState()
    state.stop_event = _Event()  # type: ignore[assignment]
    return _Exits(), state


def test_a_target_that_exits_before_the_end_of_the_duration_is_recorded_as_exited(monkeypatch):
    """`gate --duration 5s -i 60s` of a command living 0.5 s: the next tick lay past the end, so the loop waited
    for the end of the duration and read "ran for the whole gate and was stopped by memdoctor"."""
    source, state = _exiting_source(monkeypatch, 0.5)
    result = record(source, None, interval=60.0, duration=5.0, detail_every=None, state=state)
    assert result.end_reason == "target-exited"
    assert result.duration_s < 1.0, result.duration_s


def test_a_target_that_exits_during_a_long_interval_ends_the_recording_then(monkeypatch):
    """`run -i 60s` of a program living 0.5 s waited the whole 60 s for its next tick to notice the exit (a
    deterministic clock here: the sleep advances it, no wall time is measured)."""
    source, state = _exiting_source(monkeypatch, 0.5)
    result = record(source, None, interval=60.0, duration=None, detail_every=None, state=state)
    assert result.end_reason == "target-exited"
    assert result.samples == 1
    assert result.duration_s < 1.0, result.duration_s  # noticed within a piece of the sleep, not at 60 s


class _Detailed(_Flat):
    """A source whose detail lines carry a PSS reading that changes, as a process tree's does."""

    def __init__(self) -> None:
        self.reads = 0

    def details(self) -> dict:
        self.reads += 1
        return {"pss": (300 << 20) + 4096 * self.reads}


@pytest.mark.parametrize("metric", ["rss", "pss"])
def test_the_live_series_holds_the_times_the_trace_holds(tmp_path, metric):
    """A live verdict and `analyze` of the trace it wrote judge the same numbers to the last bit: the trace
    holds times in microseconds, and the live series held the clock's full float. A floor test's slope of two
    equal floor points then came out +6e-21 from the trace and -8e-21 live, and `gate --metric pss` printed
    floor growth 3.9 MiB/min live and 0 B/min from `gate --trace` of its own recording (a CI flake)."""
    from memdoctor.traces import read_trace
    from memdoctor.traces.writer import open_trace_writer

    path = str(tmp_path / "t.jsonl")
    writer = open_trace_writer(path)
    state = RecordingState()
    state.metric = metric
    try:
        # 7 ms ticks, detail lines every 23 ms: times with many more than 6 decimals, on both paths of the loop.
        record(_Detailed(), writer, interval=0.007, duration=0.4, detail_every=0.023, state=state)
    finally:
        writer.close()
    trace = read_trace(path)
    live_t, live_v = state.judged_arrays()
    if metric == "rss":
        written_t, written_v = trace.t, trace.rss
    else:
        has = ~np.isnan(trace.series["pss"])
        written_t, written_v = trace.t[has], trace.series["pss"][has]
    assert len(live_t) >= 5 and list(live_t) == list(written_t)
    assert list(live_v) == list(written_v)
