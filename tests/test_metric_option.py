"""Issue 20: --metric on every command that judges memory, recording ones included (run, watch, doctor,
gate, the pytest plugin's watch): the live verdict, the alerts and the final verdict judge the series
asked for, and say what `analyze TRACE --metric` says of the trace they wrote.

The target (tests/data/shared_warmup.py) is a healthy prefork server whose workers read data the
parent loaded into a shared mapping: the tree's RSS sum climbs ~80 MiB/s (a leak, read as RSS) while
the parent's own RSS (rss_root) stays put and the tree's PSS moves only as other processes of the
machine map the same libraries (a few hundred KiB: PSS shares a page among every process that maps
it). So the rss_root tests assert the verdict; the PSS ones (the detail-line path) the growth.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from .conftest import DATA, ROOT, memdoctor

pytest_plugins = ["pytester"]

TARGET = [sys.executable, str(DATA / "shared_warmup.py")]
# Fast enough for 20+ PSS points in the ~9 s the workers take to read the 200 MiB mapping; the first 2 s
# (the parent filling the mapping and forking its workers) are the start-up, not judged.
RECORDING = ["--interval", "100ms", "--detail-every", "0.25s", "--warmup", "2s"]
WARMUP = ["--warmup", "2s"]
MIB_S = 1024**2


def analyze(trace: Path, metric: str) -> dict:
    return json.loads(memdoctor("analyze", str(trace), "--metric", metric, *WARMUP, "--json", check_code=0).stdout)


def same_reading(final: dict, offline: dict) -> None:
    """The recording command's final diagnosis is analyze --metric's of its trace."""
    assert (final["verdict"], final["pattern"]) == (offline["verdict"], offline["pattern"]), (final, offline)
    # The trace holds the values rounded as written: the growth agrees to well under a KiB/s.
    assert abs(final["growth_bytes_per_s"] - offline["growth_bytes_per_s"]) < 1024, (final, offline)


@pytest.mark.integration
def test_run_metric_pss_judges_pss_as_analyze_does(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    out = json.loads(memdoctor("run", *RECORDING, "--duration", "9s", "--metric", "pss", "-o", str(trace), "--json",
                               "--", *TARGET, check_code=0).stdout)
    assert out["metric"] == "pss"
    rss = analyze(trace, "rss")  # the tree's RSS sum: every worker counts the shared pages again
    assert rss["verdict"] == "leak" and rss["growth_bytes_per_s"] > 20 * MIB_S
    pss = analyze(trace, "pss")
    assert abs(pss["growth_bytes_per_s"]) < MIB_S, pss["evidence"]
    same_reading(out["diagnosis"], pss)


@pytest.mark.integration
def test_watch_metric_rss_root_judges_the_root_process(tmp_path: Path, spawn) -> None:
    target = spawn(TARGET)
    trace = tmp_path / "w.jsonl"
    out = json.loads(memdoctor("watch", str(target.pid), *RECORDING, "--duration", "8s", "--metric", "rss_root",
                               "-o", str(trace), "--json", check_code=0).stdout)
    assert out["metric"] == "rss_root"
    assert analyze(trace, "rss")["verdict"] == "leak"
    root = analyze(trace, "rss_root")
    assert root["verdict"] == "no-leak", root["evidence"]
    same_reading(out["diagnosis"], root)


@pytest.mark.integration
def test_gate_metric_judges_as_gate_trace_metric(tmp_path: Path) -> None:
    trace = tmp_path / "g.jsonl"
    live = memdoctor("gate", *RECORDING, "--duration", "9s", "--metric", "pss", "-o", str(trace), "--json", "--",
                     *TARGET)
    offline = memdoctor("gate", "--trace", str(trace), "--metric", "pss", *WARMUP, "--json")
    assert live.returncode == offline.returncode, (live.stdout[-3000:], offline.stdout[-3000:])
    judged = json.loads(live.stdout)
    assert json.loads(offline.stdout)["checks"][0]["message"] == judged["checks"][1]["message"]
    assert abs(judged["diagnosis"]["growth_bytes_per_s"]) < MIB_S
    # The same recording judged on RSS fails: the option changed what was judged, not the judgement.
    rss = json.loads(memdoctor("gate", "--trace", str(trace), *WARMUP, "--json", check_code=1).stdout)
    assert rss["checks"][0]["value"] == "leak"


@pytest.mark.integration
def test_doctor_metric_rss_root_takes_no_snapshots_of_a_healthy_prefork(tmp_path: Path) -> None:
    trace = tmp_path / "d.jsonl"
    out = json.loads(memdoctor("doctor", *RECORDING, "--max-time", "9s", "--metric", "rss_root", "-o", str(trace),
                               "--json", "--", *TARGET, check_code=0).stdout)
    assert out["trigger"] is None and out["snapshots"] == [], out["trigger"]
    root = analyze(trace, "rss_root")
    assert root["verdict"] == "no-leak", root["evidence"]
    same_reading(out["report"]["diagnosis"], root)
    assert analyze(trace, "rss")["verdict"] == "leak"  # on RSS, doctor would have taken its snapshots


@pytest.mark.parametrize("command", [["run", "--duration", "1s", "--", "true"], ["watch", "1", "--duration", "1s"],
                                     ["doctor", "--", "true"], ["gate", "--duration", "1s", "--", "true"]])
def test_a_metric_the_recording_will_not_have_is_one_line_and_exit_2(command: list[str]) -> None:
    proc = memdoctor(*command[:1], "--metric", "bogus", *command[1:], check_code=2)
    assert proc.stderr.count("\n") == 1 and "--metric 'bogus'" in proc.stderr and "pss" in proc.stderr, proc.stderr
    off = memdoctor(*command[:1], "--metric", "pss", "--detail-every", "0", *command[1:])
    assert off.returncode == 2 and "--detail-every 0" in off.stderr, off.stderr


@pytest.mark.integration
def test_pytest_plugin_watch_judges_the_metric_asked_for(pytester: pytest.Pytester) -> None:
    """The memdoctor_watch fixture takes metric= as gate takes --metric: on RSS the prefork fails, on the
    parent's own RSS it passes, and the message gives the commands that repeat the answer with --metric."""
    pytester.makepyfile(test_prefork=f'''
import os
import signal
import subprocess
import time

TARGET = {TARGET!r}


def watched(memdoctor_watch, **options):
    proc = subprocess.Popen(TARGET, start_new_session=True, stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()  # "ready": the mapping is filled and the workers forked
        watch = memdoctor_watch(proc.pid, interval="100ms", warmup="1s", **options)
        time.sleep(9)  # the recording's length: the workers read the shared mapping meanwhile
        return watch.stop(check=False)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_rss(memdoctor_watch):
    result = watched(memdoctor_watch)
    assert not result.passed and result.diagnosis.verdict == "leak", result.message


def test_rss_root(memdoctor_watch):
    result = watched(memdoctor_watch, metric="rss_root")
    assert result.passed and result.diagnosis.verdict == "no-leak", result.message
    assert "--metric rss_root" in result.message


def test_pss_is_read_on_detail_lines_as_often_as_asked(memdoctor_watch):
    result = watched(memdoctor_watch, metric="pss", detail_every="0.25s")
    assert result.diagnosis.samples >= 20 and abs(result.diagnosis.growth_bytes_per_s) < 1024**2, result.message
''')
    pytester._monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester._monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "memdoctor.pytest_plugin", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=3)


@pytest.mark.integration
def test_doctor_stops_at_max_time_before_the_judged_series_has_points(tmp_path: Path) -> None:
    """`doctor --metric pss --max-time 3s` with PSS every 30 s: the watcher waited for 3 points of the judged
    series before it looked at the clock, and the recording ran on past --max-time (until the target ended)."""
    trace = tmp_path / "d.jsonl"
    out = json.loads(memdoctor("doctor", "--interval", "100ms", "--detail-every", "30s", "--max-time", "3s",
                               "--metric", "pss", "-o", str(trace), "--json", "--", sys.executable, "-c",
                               "import time; time.sleep(40)", timeout=120, check_code=0).stdout)
    assert out["trigger"] is None
    last = [json.loads(line) for line in trace.read_text().splitlines()][-1]
    assert last["t"] < 20, last  # stopped at --max-time (plus the watcher's check interval), not at the exit
