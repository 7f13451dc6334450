"""--metric on the recording commands, without a target process: what the recorder keeps of the judged
series, what the commands refuse before anything starts, and where the judged series is read again
(the trace, the report, the gate's report). Each test fails on the code an adversarial review of the
change found wanting (2026-12-04)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from memdoctor.pipelines.recording import RecordingPlan, execute
from memdoctor.sampling.limits import MemoryLimit
from memdoctor.sampling.recorder import RecordingState, record
from memdoctor.sampling.series import LiveSeries
from memdoctor.traces.reader import read_trace
from memdoctor.traces.writer import open_trace_writer

from .conftest import memdoctor

MIB = 1 << 20


class _Growing:
    """RSS flat, PSS read at every sample (--pss) growing 1 MiB a sample, and the detail line's own PSS
    reading a little later (the recorder writes that one on detail lines)."""

    fields = ("rss_root", "procs", "pss")
    fast = False

    def __init__(self) -> None:
        self.k = 0

    def values(self, now: float) -> tuple:
        self.k += 1
        return (100 * MIB, 100 * MIB, 1, self.k * MIB)

    def details(self) -> dict:
        return {"pss": self.k * MIB + 4096, "uss": 10 * MIB, "threads": 1}

    def close(self) -> None:
        pass


def test_the_judged_series_is_the_one_the_trace_holds_detail_lines_included(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = open_trace_writer(str(path))
    writer.write_header({"pid": 1})
    state = RecordingState(metric="pss")
    record(_Growing(), writer, interval=0.002, duration=0.4, detail_every=0.02, state=state)
    writer.close()
    t, judged = state.judged_arrays()
    trace = read_trace(str(path))
    kept = ~np.isnan(trace.metric("pss"))
    assert len(t) == int(kept.sum()) > 50
    assert np.array_equal(judged, trace.metric("pss")[kept])  # the detail lines' PSS, as written


def test_a_thinned_judged_series_reports_every_sample_and_no_repeated_time() -> None:
    """--interval 1ms for minutes: the live series keep ~50,000 points; the final diagnosis counted the kept
    ones (31,500 against analyze's 68,670) and a flat stretch kept one sample twice ("12136 samples with a
    repeated timestamp dropped")."""
    series = LiveSeries(max_points=1000)
    for i in range(5000):
        series.append(float(i), 1.0)
    t, _ = series.arrays()
    assert len(np.unique(t)) == len(t)

    state = RecordingState(metric="rss_root")
    state.series, state.judged = LiveSeries(max_points=1000), LiveSeries(max_points=1000)
    plan = RecordingPlan(source=_Growing(), source_name="test", title="test", pid=None, cmdline=[], runtime=None,
                         interval=0.0005, duration=1.5, detail_every=None, limit=MemoryLimit(1 << 40, "test"),
                         limit_overridden=True, writer=None, live_mode="off", console=None, state=state,
                         metric="rss_root")
    outcome = execute(plan)
    assert state.judged.thinned
    assert outcome.diagnosis is not None and outcome.diagnosis.samples == state.judged.count
    assert not any("repeated timestamp" in line for line in outcome.diagnosis.evidence)


@pytest.mark.parametrize("command", [
    ["watch", str(os.getpid()), "--duration", "1s", "--metric", "heap"],
    ["run", "--metric", "heap", "--", "python3", "-c", "pass"],
    ["gate", "--metric", "heap", "--duration", "1s", "--", "python3", "-c", "pass"],
    ["doctor", "--metric", "heap", "--", "python3", "-c", "pass"],
    ["run", "--metric", "fds", "--", "true"],
    ["watch", str(os.getpid()), "--duration", "1s", "--metric", "threads"],
])
def test_a_series_the_recording_cannot_judge_is_refused_before_it_starts(command: list[str]) -> None:
    """V8's heap is recorded only for a Node.js command memdoctor launches (it ran a whole `gate` to say "no
    memory sample was recorded"); fds and threads are counts, which the engine's byte thresholds never
    call a leak (3 -> 297 open files read no-leak)."""
    proc = memdoctor(*command, check_code=2)
    assert proc.stderr.count("\n") == 1 and "--metric" in proc.stderr, proc.stderr


def test_a_cgroup_series_can_be_judged_again_from_its_trace(tmp_path: Path) -> None:
    """`watch --cgroup --metric anon -o t.jsonl` judged anon; `analyze t.jsonl --metric anon` said the trace
    had no such series, and the CSV writer left the cgroup's columns out."""
    t = np.arange(0.0, 60.0, 0.5)
    anon = 200 * MIB + t * MIB  # 1 MiB/s: a leak; usage flat
    for suffix in ("jsonl", "csv"):
        path = tmp_path / f"cg.{suffix}"
        writer = open_trace_writer(str(path))
        writer.write_header({"cgroup": "/sys/fs/cgroup/app"})
        for ti, a in zip(t, anon, strict=True):
            writer.write_sample({"t": float(ti), "rss": 300 * MIB, "usage": 300 * MIB, "cache": 50 * MIB,
                                 "anon": int(a), "kernel": MIB})
        writer.close()
        judged = json.loads(memdoctor("analyze", str(path), "--metric", "anon", "--json", check_code=0).stdout)
        assert judged["verdict"] == "leak" and abs(judged["growth_bytes_per_s"] - MIB) < 0.05 * MIB, suffix
        usage = json.loads(memdoctor("analyze", str(path), "--metric", "usage", "--json", check_code=0).stdout)
        assert usage["verdict"] == "no-leak", suffix


def _pss_leak_trace(path: Path) -> None:
    """RSS flat, PSS climbing: what the recording judged with --metric pss is a leak; RSS is not."""
    writer = open_trace_writer(str(path))
    writer.write_header({"pid": 1})
    for k in range(240):
        writer.write_sample({"t": k * 0.5, "rss": 300 * MIB, "pss": 100 * MIB + k * MIB // 2})
    writer.close()


def test_run_report_judges_the_recording_s_metric_and_warmup(tmp_path: Path) -> None:
    from memdoctor.commands.report import report_after_recording

    trace = tmp_path / "t.jsonl"
    _pss_leak_trace(trace)
    out = tmp_path / "r.json"
    assert report_after_recording(str(trace), str(out), None, 5.0, "pss") is None
    offline = json.loads(memdoctor("analyze", str(trace), "--metric", "pss", "--warmup", "5s", "--json").stdout)
    assert json.loads(out.read_text())["diagnosis"]["verdict"] == offline["verdict"] == "leak"


def test_gate_diagnose_report_judges_the_gate_s_metric(tmp_path: Path) -> None:
    trace = tmp_path / "g.jsonl"
    _pss_leak_trace(trace)
    gate = json.loads(memdoctor("gate", "--trace", str(trace), "--metric", "pss", "--diagnose", "--json",
                                check_code=1).stdout)
    assert gate["diagnosis"]["verdict"] == "leak"
    report = json.loads((tmp_path / "g.report.json").read_text())
    assert report["diagnosis"]["verdict"] == "leak", report["diagnosis"]


@pytest.mark.parametrize("command", [["analyze"], ["gate", "--trace"], ["report"], ["caps", "--trace"]])
def test_a_count_series_is_refused_by_every_command_that_judges_a_trace(command: list[str]) -> None:
    """fds, threads and procs count things: judged with byte thresholds they always read no-leak."""
    from .conftest import ROOT

    trace = str(ROOT / "sample_traces" / "python_leaky_list.jsonl")
    proc = memdoctor(*command, trace, "--metric", "fds", check_code=2)
    assert proc.stderr.count("\n") == 1 and "a count, not memory" in proc.stderr, proc.stderr
