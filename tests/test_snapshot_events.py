"""memdoctor's own heap snapshots are no part of the target's growth: every diagnosis judges up to the first.

A helper's review (2026-12-08): `doctor` on an express server leaking 10 MiB/min (one listener per request)
took its first V8 heap snapshot at 152 s, and the server's RSS rose about 90 MiB within it and never gave it
back. The report read "leak, linear, 40.6 MiB/min, limit in 9h46m" and "memory grows outside the runtime heap",
and `analyze` of the trace said the same: nothing in the trace said when the snapshots were taken.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from memdoctor.analysis.engine import SNAPSHOT_EVENT, diagnose, diagnose_trace
from memdoctor.traces.reader import read_trace

from .conftest import memdoctor

MiB = 1024**2
RATE = 10 * MiB / 60  # the program's own leak, bytes/s
SNAPSHOT_AT = 152.0
SNAPSHOT_MEMORY = 90 * MiB


def _server_with_a_snapshot() -> tuple[np.ndarray, np.ndarray]:
    """3m40s at 200 ms: a 120 MiB server leaking RATE under 30 MiB GC ramps every 30 s, and from SNAPSHOT_AT the
    snapshotter's memory on top, kept."""
    rng = np.random.default_rng(8)
    t = np.arange(0.0, 220.0, 0.2)
    m = 120 * MiB + RATE * t + 30 * MiB * ((t % 30.0) / 30.0) + rng.normal(0, 0.3 * MiB, len(t))
    m[t >= SNAPSHOT_AT] += SNAPSHOT_MEMORY
    return t, np.round(m)


def _write(path: Path, t: np.ndarray, m: np.ndarray, *, event: bool) -> Path:
    lines = [json.dumps({"memdoctor_trace": 1, "interval_s": 0.2, "source": "test"})]
    # V8's used heap every 5 s, growing with the leak (the listeners are on the heap) and not with the snapshot.
    lines += [json.dumps({"t": round(float(a), 3), "rss": int(b)}
                         | ({"heap": int(30 * MiB + RATE * a)} if round(a / 0.2) % 25 == 0 else {}))
              for a, b in zip(t, m, strict=True)]
    if event:
        lines.append(json.dumps({"t": SNAPSHOT_AT, "event": SNAPSHOT_EVENT}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_diagnosis_judges_up_to_the_first_snapshot() -> None:
    t, m = _server_with_a_snapshot()
    d = diagnose(t, m, snapshot_times=np.array([SNAPSHOT_AT, SNAPSHOT_AT + 30.0]))
    assert d.verdict == "leak", d.evidence
    assert 0.7 * RATE < d.growth_bytes_per_s < 1.3 * RATE, (d.growth_bytes_per_s * 60 / MiB, d.evidence)
    assert any("judged up to memdoctor's first heap snapshot" in e for e in d.evidence), d.evidence
    # Without the event, the snapshot's own memory is read as the program's: the fault this fixes.
    blind = diagnose(t, m)
    assert blind.growth_bytes_per_s > 1.5 * RATE, blind.growth_bytes_per_s * 60 / MiB


def test_snapshots_before_there_is_enough_to_judge_leave_the_whole_trace_judged_and_say_so() -> None:
    t, m = _server_with_a_snapshot()
    d = diagnose(t, m, snapshot_times=np.array([1.0]))
    assert any("before" in e and "the whole trace is judged" in e for e in d.evidence), d.evidence


def test_every_command_reading_the_trace_judges_up_to_the_snapshot(tmp_path: Path) -> None:
    t, m = _server_with_a_snapshot()
    path = _write(tmp_path / "doctor.jsonl", t, m, event=True)
    d = diagnose_trace(read_trace(str(path)))
    assert 0.7 * RATE < d.growth_bytes_per_s < 1.3 * RATE, d.evidence
    analyzed = json.loads(memdoctor("analyze", "--json", str(path), check_code=0).stdout)
    assert analyzed["verdict"] == d.verdict and analyzed["growth_bytes_per_s"] == d.growth_bytes_per_s
    gate = json.loads(memdoctor("gate", "--trace", str(path), "--json", check_code=1).stdout)
    assert gate["diagnosis"]["growth_bytes_per_s"] == d.growth_bytes_per_s, gate
    report = json.loads(memdoctor("report", str(path), "--format", "json", check_code=0).stdout)
    assert report["diagnosis"]["growth_bytes_per_s"] == d.growth_bytes_per_s
    # The heap grows as fast as RSS up to the snapshot: nothing grows outside it (the snapshot's memory read so).
    assert report["outside_heap"]["outside_heap"] is False, report["outside_heap"]
    assert not any("outside the runtime heap" in note for note in report["notes"]), report["notes"]


def test_the_memory_now_and_the_time_to_the_limit_count_the_snapshots_memory() -> None:
    """The judgement stops at the first snapshot; the facts do not: the process holds the snapshotter's memory now,
    and it counts against the limit (a report read "now 160.2 MiB" for a server holding 252 MiB)."""
    t, m = _server_with_a_snapshot()
    limit = 512 * MiB
    d = diagnose(t, m, limit_bytes=limit, snapshot_times=np.array([SNAPSHOT_AT]))
    assert d.last_bytes == float(m[-1]) and d.peak_bytes == float(m.max())
    floor_now = 120 * MiB + RATE * float(t[-1]) + SNAPSHOT_MEMORY
    expected = (limit - 30 * MiB - floor_now) / RATE  # the GC ramps' 30 MiB above the floor
    assert d.time_to_limit_s is not None and 0.8 * expected < d.time_to_limit_s < 1.2 * expected, (
        d.time_to_limit_s, expected, d.evidence)


def test_an_oom_kill_at_the_end_is_the_limit_reached_not_a_forecast() -> None:
    """A leak OOM-killed after the snapshot (the event after its last sample) read "OOM-killed ... first at 3m20s"
    beside "time to limit 58s" (a helper's review, 2026-12-08)."""
    t, m = _server_with_a_snapshot()
    d = diagnose(t, m, limit_bytes=512 * MiB, snapshot_times=np.array([SNAPSHOT_AT]),
                 oom_kill_times=np.array([float(t[-1]) + 0.5]))
    assert d.verdict == "leak" and d.time_to_limit_s == 0.0, (d.time_to_limit_s, d.evidence)


def test_a_snapshot_inside_the_warmup_leaves_the_whole_window_judged_and_says_so() -> None:
    t, m = _server_with_a_snapshot()
    d = diagnose(t, m, warmup_s=30.0, snapshot_times=np.array([10.0]))
    assert any("the whole trace is judged" in e for e in d.evidence), d.evidence


def test_memdoctors_csv_keeps_the_snapshot_event(tmp_path: Path) -> None:
    """doctor -o trace.csv: the CSV writer put the event in its `event` column of a row with no memory, and the CSV
    reader skipped that row as unparseable, so the report judged the snapshots' memory ("1 unparseable rows skipped",
    the floor test at 43.5 MiB/min beside a live line of 18.4: a helper's review, 2026-12-08)."""
    t, m = _server_with_a_snapshot()
    path = tmp_path / "doctor.csv"
    rows = ["t,rss_bytes,event", *(f"{a:.3f},{int(b)}," for a, b in zip(t, m, strict=True)),
            f"{SNAPSHOT_AT},,{SNAPSHOT_EVENT}"]
    path.write_text("\n".join(rows) + "\n")
    trace = read_trace(str(path))
    assert trace.events == [(SNAPSHOT_AT, SNAPSHOT_EVENT)] and trace.skipped_rows == 0
    d = diagnose_trace(trace)
    assert 0.7 * RATE < d.growth_bytes_per_s < 1.3 * RATE, d.evidence


def test_a_doctor_trace_as_a_gate_baseline_is_the_programs_numbers(tmp_path: Path) -> None:
    """A baseline from doctor's trace: its p95 with the snapshot's memory was 211 MB against 117 MB for the same
    program without one (a helper's review, 2026-12-08)."""
    from memdoctor.pipelines.gate import baseline_from_trace

    t, m = _server_with_a_snapshot()
    with_event = baseline_from_trace(str(_write(tmp_path / "a.jsonl", t, m, event=True)))
    keep = t < SNAPSHOT_AT
    plain = baseline_from_trace(str(_write(tmp_path / "b.jsonl", t[keep], m[keep], event=False)))
    assert with_event.p95_bytes == plain.p95_bytes
