"""When doctor takes its snapshots (pipelines/doctor.LeakTrigger), replayed on recordings as the watcher sees them:
the series so far, every CHECK_EVERY_S."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memdoctor.pipelines.doctor import CHECK_EVERY_S, LeakTrigger
from memdoctor.traces.reader import read_traces

from .conftest import ROOT

LIVE = Path(__file__).parent / "data" / "live"


def _first_trigger(path: Path, *, held: bool, limit_bytes: int | None = None) -> tuple[float | None, list[str]]:
    trace = read_traces(str(path))[0]
    return _first_trigger_of(np.asarray(trace.t, dtype=float), np.asarray(trace.rss, dtype=float), held=held,
                             limit_bytes=limit_bytes)


def _first_trigger_of(t: np.ndarray, m: np.ndarray, *, held: bool,
                      limit_bytes: int | None = None) -> tuple[float | None, list[str]]:
    trigger_on = LeakTrigger(limit_bytes=limit_bytes, warmup_s=0.0, held=held)
    said: list[str] = []
    for end in np.arange(CHECK_EVERY_S, float(t[-1]) + 1e-9, CHECK_EVERY_S):
        upto = t <= end
        if upto.sum() < 3:
            continue
        trigger, d = trigger_on.update(t[upto], m[upto])
        said.append(f"{end:.0f}s {d.verdict} ({d.pattern})")
        if trigger is not None:
            return float(end), said
    return None, said


def test_a_healthy_node_start_up_one_diagnosis_calls_a_leak_does_not_trigger_the_snapshots():
    """CI (three test workers beside a benchmark): a healthy Node server's RSS climbed 45 -> 90 MiB in its first
    15 s with no GC for 7 s as V8 sized its heap under CPU contention; the diagnosis of those 15 s said
    "leak (linear)" and doctor, triggering on each diagnosis alone, took its snapshots there. doctor triggers on
    the live verdict now (the one diagnosis held over new evidence, analysis.online): one diagnosis is no hold."""
    path = LIVE / "node_healthy_server_startup_under_load_15s.jsonl"
    assert _first_trigger(path, held=False)[0] is not None  # each diagnosis alone: snapshots on the start-up
    at, said = _first_trigger(path, held=True)
    assert at is None, said


def test_a_steady_leak_triggers_once_the_live_verdict_shows_it():
    """leaky_list.py recorded for 60 s (7.7 MiB/s): the live verdict shows leak after its hold (30 s and a third
    of the watch), and doctor's snapshots follow; gate --diagnose (held=False) takes them at the first leak."""
    path = ROOT / "sample_traces" / "python_leaky_list.jsonl"
    held, said = _first_trigger(path, held=True)
    at_once, _ = _first_trigger(path, held=False)
    assert at_once is not None and held is not None, said
    assert at_once < held <= 50.0, (at_once, held, said)


def test_a_leak_near_its_limit_is_snapshotted_before_the_live_verdict_could_come():
    """The Node dead-letter-queue incident under doctor --limit 512MB: a start-up burst, then 4.1 MiB/s. Its halves
    grew 4.3 and 4.1 MiB/s, a slowdown beyond their bands, so the live verdict held the leak back ("watching") for
    all 90 s, the limit 15 s after the end, and doctor took no snapshot. Once the limit is nearer than the least
    hold plus the snapshots' own time, doctor does not wait for the live verdict. A fill levelling off under its
    limit (exponential approach to 300 MiB under 512 MiB) still waits, and is never snapshotted."""
    from memdoctor.analysis import diagnose
    from memdoctor.analysis.online import OnlineJudge
    from memdoctor.pipelines.doctor import MIN_SPACING_S, SNAPSHOTS

    limit = 512 * 2**20
    path = LIVE / "node_dead_letter_queue_limit_512mb_90s.jsonl"
    trace = read_traces(str(path))[0]
    t, m = np.asarray(trace.t, dtype=float), np.asarray(trace.rss, dtype=float)
    judge = OnlineJudge()
    assert all(judge.update(diagnose(t[t <= end], m[t <= end], limit_bytes=limit), end).shown != "leak"
               for end in np.arange(CHECK_EVERY_S, float(t[-1]), CHECK_EVERY_S))  # the live verdict never decides
    at, said = _first_trigger(path, held=True, limit_bytes=limit)
    assert at is not None, said
    rate = float(np.polyfit(t[t >= at - 10], m[t >= at - 10], 1)[0])  # how fast it climbs when doctor acts
    left = (limit - float(m[t <= at][-1])) / rate
    assert left > SNAPSHOTS * MIN_SPACING_S, (at, left)  # room for the three snapshots before the limit
    tt = np.arange(0.0, 90.0, 0.2)
    fill = np.round((50 * 2**20 + 250 * 2**20 * (1 - np.exp(-tt / 40.0))) / 4096) * 4096
    assert _first_trigger_of(tt, fill, held=True, limit_bytes=limit)[0] is None


def test_a_leak_the_live_verdict_holds_back_for_the_whole_watch_reads_leak_at_its_end():
    """CI (three test workers): doctor on the Python dead-letter-queue incident (--max-time 90s) ended with the
    report "leak (linear), 3.7 MiB/s" and no snapshot, so no suspect. Recorded again with CPU load from 25 s on:
    its floor's halves grew 3.85 then 3.72 MiB/s, a slowdown beyond their bands, and the live verdict stayed
    "watching" (a fill may be levelling off) from 32 s to the end. The whole watch's diagnosis, the one the
    report heads with, says leak: doctor's last look at --max-time (Watcher._last_look) takes the snapshots on it
    (test_doctor.py::test_a_leak_the_watch_is_too_short_to_hold_is_snapshotted_at_max_time runs it)."""
    from memdoctor.analysis import diagnose
    from memdoctor.analysis.online import OnlineJudge

    trace = read_traces(str(LIVE / "python_dead_letter_queue_slowing_under_load_90s.jsonl"))[0]
    t, m = np.asarray(trace.t, dtype=float), np.asarray(trace.rss, dtype=float)
    judge = OnlineJudge()
    shown = [judge.update(diagnose(t[t <= end], m[t <= end], limit_bytes=trace.limit_bytes), end)
             for end in np.arange(CHECK_EVERY_S * 10, float(t[-1]) + 1e-9, CHECK_EVERY_S)]
    assert all(s.shown == "watching" for s in shown), [s.shown for s in shown]
    assert shown[-1].note is not None and "slowing down" in shown[-1].note
    whole = diagnose(t, m, limit_bytes=trace.limit_bytes)
    assert whole.verdict == "leak" and whole.growth_bytes_per_s > 3 * 2**20, whole.evidence


def _state_of(path: Path):
    from memdoctor.sampling.recorder import RecordingState

    trace = read_traces(str(path))[0]
    state = RecordingState(judge_live=True)
    state.series.extend_pairs([(float(t), (float(m),)) for t, m in zip(trace.t, trace.rss, strict=True)])
    return state, trace


def test_the_last_look_at_max_time_takes_the_whole_watchs_leak_but_not_inside_the_warmup():
    """Watcher._last_look on that recording as the watcher holds it at --max-time: doctor takes the leak; gate
    --diagnose (held=False, the recording not its to stop) has no last look; nor has a watch still inside its
    --warmup, whose start the user left out (the engine would judge a short rest whole)."""
    from memdoctor.pipelines.doctor import Watcher

    state, trace = _state_of(LIVE / "python_dead_letter_queue_slowing_under_load_90s.jsonl")

    def last_look(**kwargs):
        watcher = Watcher(state, 0, limit_bytes=trace.limit_bytes, prefix="unused", shares=[], max_time_s=90.0,
                          say=lambda message: None, **kwargs)
        return watcher._last_look(state.judged_arrays()[0])[0]

    assert (last_look() or "").startswith("the diagnosis of the whole watch says leak")
    assert last_look(held=False, stop_recording=False) is None
    assert last_look(warmup_s=float(trace.t[-1]) - 1.0) is None
    assert last_look(warmup_s=30.0) is not None
