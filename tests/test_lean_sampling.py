"""The watcher stays light: the sampling path imports nothing heavy, and its loop keeps the grid.

`watch`, `run` and `gate` run in CI jobs and beside production processes: their own cost must be
far below what they measure (issue 18). numba (~155 MiB and ~1 s of CPU to load), matplotlib
and memray are optional extras that only `diff` of V8 snapshots, plots and memray captures use.
Each check runs in a fresh interpreter and reads its sys.modules at exit.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memdoctor.sampling.backend import open_process_tree
from memdoctor.sampling.procfs import PAGE_SIZE
from memdoctor.sampling.recorder import RecordingState, record
from memdoctor.sampling.sources import ProcessTreeSource
from memdoctor.traces.writer import JsonlTraceWriter

from .conftest import cli_env, read_jsonl, wait_for

pytestmark = pytest.mark.integration

HEAVY = ("numba", "llvmlite", "matplotlib", "memray", "pandas", "scipy")

# Runs the CLI in this interpreter, then prints which heavy packages got imported (the exit
# code of the command is kept so that a failed run is not mistaken for a lean one).
RUN_CLI_THEN_REPORT = textwrap.dedent("""
    import atexit, json, sys
    heavy = {heavy!r}
    def report():
        found = sorted({{m.split('.')[0] for m in sys.modules}} & set(heavy))
        sys.stderr.write('HEAVY=' + json.dumps(found) + '\\n')
    atexit.register(report)
    sys.argv = ['memdoctor', *{args!r}]
    from memdoctor.cli import main
    main()
""")

# Every page touched, then a file says so: the RSS is flat from then on.
HOLDER = "import sys, time; x = b'x' * (24 << 20); open(sys.argv[1], 'w').close(); time.sleep(60)"
COMMON_LINE = re.compile(rb'^\{"t":\d+\.\d{6},"rss":(\d+),"rss_root":(\d+),"procs":1\}$')


def _heavy_modules_after(args: list[str], cwd: Path) -> tuple[list[str], subprocess.CompletedProcess]:
    code = RUN_CLI_THEN_REPORT.format(heavy=HEAVY, args=args)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=cli_env(),
                          cwd=cwd)
    found = re.search(r"^HEAVY=(.*)$", proc.stderr, re.M)
    assert found, (proc.returncode, proc.stdout[-1000:], proc.stderr[-2000:])
    return json.loads(found.group(1)), proc


def test_importing_the_sampling_path_imports_nothing_heavy():
    modules = ["memdoctor.sampling.recorder", "memdoctor.sampling.backend", "memdoctor.sampling.sources",
               "memdoctor.pipelines.recording", "memdoctor.pipelines.gate", "memdoctor.pipelines.live",
               "memdoctor.report.live", "memdoctor.cli", "memdoctor.commands.watch", "memdoctor.commands.run",
               "memdoctor.commands.gate"]
    code = (f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=cli_env(),
                         check=True)
    assert json.loads(out.stdout) == []


def test_watch_at_10ms_imports_nothing_heavy(tmp_path, spawn):
    ready = tmp_path / "ready"
    target = spawn([sys.executable, "-c", HOLDER, str(ready)])
    wait_for(ready.exists, what="the target's 24 MiB")
    # 6 s: long enough that the removed compiled loop would have loaded numba (it did from 5 s on).
    heavy, proc = _heavy_modules_after(["watch", str(target.pid), "--interval", "10ms", "--duration", "6s",
                                        "-o", str(tmp_path / "w.jsonl")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert heavy == []
    _header, samples = read_jsonl(tmp_path / "w.jsonl")
    assert len(samples) > 300


def test_run_and_gate_import_nothing_heavy(tmp_path):
    child = [sys.executable, "-c", "import time; x = bytearray(8 << 20); time.sleep(1.0)"]
    heavy, proc = _heavy_modules_after(["run", "--interval", "10ms", "-o", str(tmp_path / "r.jsonl"), "--", *child],
                                       tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert heavy == []
    heavy, proc = _heavy_modules_after(["gate", "--interval", "20ms", "--duration", "1s", "--", *child], tmp_path)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # pass or fail: either way it judged
    assert "Traceback" not in proc.stderr
    assert heavy == []


@pytest.mark.parametrize("loop", ["c", "python"])
def test_each_loop_writes_the_contract_trace_on_the_grid(tmp_path, spawn, monkeypatch, loop):
    """The C tick loop (the default where it is built) and the Python loop write the same trace."""
    from memdoctor.sampling import recorder

    monkeypatch.setenv(recorder.NO_C_LOOP_ENV, "1" if loop == "python" else "0")
    calls = []
    if loop == "c":
        from memdoctor.sampling import _ticks

        def counted(*args):
            result = _ticks.run(*args)
            calls.append(len(result[3]))
            return result
        monkeypatch.setattr(recorder, "_ticks", type("Ticks", (), {"run": staticmethod(counted),
                                                                  "UNUSUAL": _ticks.UNUSUAL, "END": _ticks.END}))
    ready = tmp_path / "ready"
    target = spawn([sys.executable, "-c", HOLDER, str(ready)])
    wait_for(ready.exists, what="the target's 24 MiB")
    out = tmp_path / "loop.jsonl"
    source = ProcessTreeSource(open_process_tree(target.pid))
    writer = JsonlTraceWriter(str(out))
    writer.write_header({"pid": target.pid, "interval_s": 0.005})
    try:
        result = record(source, writer, interval=0.005, duration=2.0, detail_every=1.0, state=RecordingState())
    finally:
        source.close()
        writer.close()
    assert result.end_reason == "duration"
    raw = out.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    _header, samples = read_jsonl(out)
    assert len(samples) == result.samples == len(lines) - 1
    # The common sample goes through the bytes template: the contract's keys, in this order.
    common = [COMMON_LINE.match(line) for line in lines[1:]]
    assert sum(m is not None for m in common) >= len(samples) - 3  # all but the detail samples (every 1 s)
    assert 2 <= sum("pss" in s for s in samples) <= 3
    expected = int(Path(f"/proc/{target.pid}/statm").read_text().split()[1]) * PAGE_SIZE
    off = [s for s in samples if abs(s["rss"] - expected) > 1 << 20 or s["rss_root"] != s["rss"]]
    assert not off, (expected, off[:3])
    # On the grid: times increase, ticks at start + k * interval (a missed tick is skipped, not bunched).
    t = [s["t"] for s in samples]
    assert all(b > a for a, b in itertools.pairwise(t))
    assert t[-1] < 2.0
    steps = sorted(round((b - a) / 0.005) for a, b in itertools.pairwise(t))
    assert steps[len(steps) // 2] == 1
    if loop == "c":  # it took most ticks: all but the first after each rescan (0.25 s) and detail sample (1 s)
        assert sum(calls) >= len(samples) * 3 // 4, (sum(calls), len(samples))


def test_the_node_heap_sums_only_processes_still_in_the_tree():
    """A Node child that exited under its shell kept its last heap report in the sum for up to STALE_S, so the
    trace's heap rose above the tree's RSS (test_doctor.py::test_run_records_the_v8_heap_..., CI 2026-12-04)."""
    import os

    from memdoctor.sampling.node_heap import NodeHeapChannel

    channel = NodeHeapChannel()
    try:
        os.write(channel.fd, b"101 0 5000000 9000000\n202 0 7000000 9000000\n")
        assert channel.latest() == 12_000_000
        assert channel.latest({202, 303}) == 7_000_000  # 101 has left the tree
        assert channel.latest(set()) is None
    finally:
        channel.close()
