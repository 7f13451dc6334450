"""The compiled sampling loop (memdoctor/sampling/fastloop.py, native.py) against real processes.

The kernel is loaded once here (numba's cache makes that quick after the first time), so in
these tests the compiled loop takes over from the second tick and what it writes, how it
stops and how it hands back to the Python loop can be checked on purpose.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from memdoctor.sampling.backend import open_process_tree
from memdoctor.sampling.procfs import PAGE_SIZE
from memdoctor.sampling.recorder import RecordingState, record
from memdoctor.sampling.sources import ProcessTreeSource
from memdoctor.traces.writer import JsonlTraceWriter

from .conftest import read_jsonl, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the compiled loop is Linux-only")

# Every page touched, then a file says so: the RSS is flat from then on.
HOLDER = "import sys, time; x = b'x' * (24 << 20); open(sys.argv[1], 'w').close(); time.sleep(60)"
COMMON_LINE = re.compile(rb'^\{"t":\d+\.\d{6},"rss":(\d+),"rss_root":(\d+),"procs":1\}$')


@pytest.fixture(autouse=True)
def short_recordings_too(monkeypatch):
    """The compiled loop also for these few-second recordings (normally from 5 s on)."""
    from memdoctor.sampling import fastloop

    monkeypatch.setattr(fastloop, "MIN_DURATION_S", 0.0)


@pytest.fixture(scope="module", autouse=True)
def kernel_loaded():
    """Load (or compile once into numba's cache) the kernel in this process."""
    os.environ.pop("MEMDOCTOR_NO_FASTLOOP", None)
    try:
        from memdoctor.sampling import native

        native.warm_up()
    except Exception as exc:  # pragma: no cover - numba missing or broken
        pytest.skip(f"numba cannot compile the kernel here: {exc}")


def _holder(spawn, tmp_path: Path) -> subprocess.Popen:
    ready = tmp_path / "holder-ready"
    proc = spawn([sys.executable, "-c", HOLDER, str(ready)])
    wait_for(ready.exists, what="the target's 24 MiB")
    return proc


def _rss_pages(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError):
        return 0


def _record(pid: int, out: Path | None, *, interval: float, duration: float | None, state: RecordingState | None = None,
            detail_every: float | None = 1.0):
    source = ProcessTreeSource(open_process_tree(pid))
    writer = JsonlTraceWriter(str(out)) if out is not None else None
    if writer is not None:
        writer.write_header({"pid": pid, "interval_s": interval})
    state = state or RecordingState()
    try:
        result = record(source, writer, interval=interval, duration=duration, detail_every=detail_every, state=state)
    finally:
        source.close()
        if writer is not None:
            writer.close()
    return result, state


@pytest.mark.integration
def test_compiled_loop_writes_the_contract_trace(tmp_path, spawn):
    target = _holder(spawn, tmp_path)
    out = tmp_path / "fast.jsonl"
    result, _state = _record(target.pid, out, interval=0.005, duration=2.0)
    assert result.end_reason == "duration"
    assert result.compiled_samples > 0.5 * result.samples, result  # numba is loaded from 0.6 s on
    raw = out.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    header, samples = read_jsonl(out)
    assert header["pid"] == target.pid and len(samples) == result.samples == len(lines) - 1
    # Every sample: the keys of the Python loop's lines, in the same order and format.
    common = [COMMON_LINE.match(line) for line in lines[1:]]
    assert sum(m is not None for m in common) >= len(samples) - 3  # all but the detail samples (every 1 s)
    details = [s for s in samples if "pss" in s]
    assert 2 <= len(details) <= 3 and all(s["procs"] == 1 for s in samples)
    expected = _rss_pages(target.pid) * PAGE_SIZE
    off = [s for s in samples if abs(s["rss"] - expected) > 1 << 20 or s["rss_root"] != s["rss"]]
    assert not off, (expected, off[:3])
    # On the grid: times increase, ticks start + k * interval (a missed tick is skipped, not bunched).
    t = [s["t"] for s in samples]
    assert all(b > a for a, b in itertools.pairwise(t)), [(a, b) for a, b in itertools.pairwise(t) if b <= a]
    assert t[-1] < 2.0
    steps = sorted(round((b - a) / 0.005) for a, b in itertools.pairwise(t))
    assert steps[len(steps) // 2] == 1


@pytest.mark.integration
def test_target_exit_mid_batch_ends_the_recording_with_whole_lines(tmp_path, spawn):
    target = spawn([sys.executable, "-c", "import time; x = bytearray(8 << 20); time.sleep(1.5)"])
    out = tmp_path / "exit.jsonl"
    result, _state = _record(target.pid, out, interval=0.005, duration=None)
    assert result.end_reason == "target-exited"
    assert result.compiled_samples > 50
    raw = out.read_bytes()
    assert raw.endswith(b"\n")
    _header, samples = read_jsonl(out)
    assert len(samples) == result.samples
    assert all(s["rss"] > 0 for s in samples)  # no sample of the exiting process without its memory


@pytest.mark.integration
def test_stop_request_from_another_thread_lands_within_a_tick_or_two(tmp_path, spawn):
    target = _holder(spawn, tmp_path)
    state = RecordingState()
    out = tmp_path / "stop.jsonl"
    seen: list[int] = []

    def stopper() -> None:
        wait_for(lambda: state.wake is not None, what="the compiled loop")
        first = _lines(out)
        wait_for(lambda: _lines(out) >= first + 3, what="3 lines from the compiled loop")
        seen.append(_lines(out) - 1)  # samples written so far (the header aside)
        state.request_stop("alert")

    thread = threading.Thread(target=stopper)
    thread.start()
    # 50 ms ticks: a batch runs 5 ticks (0.25 s) before the Python loop looks at the state again.
    result, _ = _record(target.pid, out, interval=0.05, duration=30.0, state=state)
    thread.join()
    assert result.end_reason == "alert"
    assert result.compiled_samples > 0
    assert result.samples - seen[0] <= 2


@pytest.mark.integration
def test_children_hand_the_ticks_back_to_the_python_loop(tmp_path, spawn):
    code = textwrap.dedent("""
        import subprocess, sys, time
        time.sleep(1.0)
        kid = subprocess.Popen([sys.executable, '-c', 'import time; x = bytearray(16 << 20); time.sleep(60)'])
        time.sleep(60)
    """)
    target = spawn([sys.executable, "-c", code])
    out = tmp_path / "tree.jsonl"
    result, _state = _record(target.pid, out, interval=0.005, duration=3.0)
    _header, samples = read_jsonl(out)
    assert result.compiled_samples > 50
    alone = [s for s in samples if s["procs"] == 1]
    family = [s for s in samples if s["procs"] == 2]
    assert alone and family and samples[-1]["procs"] == 2
    assert all(s["rss"] > s["rss_root"] for s in family)
    assert len(samples) == result.samples


@pytest.mark.integration
def test_compiled_loop_takes_over_again_once_the_children_are_gone(tmp_path, spawn):
    code = textwrap.dedent("""
        import subprocess, sys, time
        kid = subprocess.Popen([sys.executable, '-c', 'import time; x = bytearray(16 << 20); time.sleep(1.2)'])
        time.sleep(60)
    """)
    target = spawn([sys.executable, "-c", code])
    wait_for(lambda: any(Path(f"/proc/{target.pid}/task/{tid}/children").read_text().strip()
                         for tid in os.listdir(f"/proc/{target.pid}/task")), what="the child")
    out = tmp_path / "gone.jsonl"
    result, _state = _record(target.pid, out, interval=0.005, duration=3.0)
    _header, samples = read_jsonl(out)
    assert any(s["procs"] == 2 for s in samples) and samples[-1]["procs"] == 1
    # At most the first rescan (0.25 s, 50 ticks) before the child joins the tree was compiled;
    # the rest came after the child left.
    assert result.compiled_samples > 150


@pytest.mark.integration
def test_no_numba_falls_back_to_the_python_loop(tmp_path, spawn, monkeypatch):
    import memdoctor.sampling

    monkeypatch.setitem(sys.modules, "memdoctor.sampling.native", None)  # the import fails
    monkeypatch.delattr(memdoctor.sampling, "native", raising=False)
    target = _holder(spawn, tmp_path)
    out = tmp_path / "slow.jsonl"
    result, _state = _record(target.pid, out, interval=0.005, duration=1.0)
    assert result.end_reason == "duration" and result.compiled_samples == 0
    _header, samples = read_jsonl(out)
    assert len(samples) == result.samples > 100


@pytest.mark.integration
def test_disk_full_in_the_compiled_loop_keeps_whole_lines(tmp_path, spawn):
    from .test_faults import _tmpfs

    target = _holder(spawn, tmp_path)
    with _tmpfs(tmp_path, "size=64k") as mnt:
        out = mnt / "full.jsonl"
        result, _state = _record(target.pid, out, interval=0.002, duration=8.0, detail_every=None)
        # Writing stopped, sampling went on to the end (issue 19 item 10).
        assert result.end_reason == "duration" and "disk is full" in (result.write_error or "")
        assert result.compiled_samples > 0
        raw = out.read_bytes()
        assert raw.endswith(b"\n")
        _header, samples = read_jsonl(out)
        assert result.samples > len(samples) > 500


# -- memdoctor killed or interrupted while the compiled loop runs (a real process) -------------

DRIVER = textwrap.dedent("""
    import json, sys, threading, time
    from memdoctor.sampling import native
    native.warm_up()
    from memdoctor.sampling.backend import open_process_tree
    from memdoctor.sampling.recorder import RecordingState, record
    from memdoctor.sampling.sources import ProcessTreeSource
    from memdoctor.traces.writer import JsonlTraceWriter

    pid, path = int(sys.argv[1]), sys.argv[2]
    writer = JsonlTraceWriter(path)
    writer.write_header({"pid": pid})
    state = RecordingState()

    def announce():
        while state.wake is None:
            time.sleep(0.005)
        print("compiled", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    result = record(ProcessTreeSource(open_process_tree(pid)), writer, interval=0.001, duration=None,
                    detail_every=None, state=state)
    writer.close()
    print(json.dumps({"end_reason": result.end_reason, "samples": result.samples,
                      "compiled": result.compiled_samples}), flush=True)
""")


def _driver(target_pid: int, out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(target_pid), str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "compiled", (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.integration
def test_kill_9_mid_batch_leaves_only_whole_lines(tmp_path, spawn):
    target = _holder(spawn, tmp_path)
    out = tmp_path / "k9.jsonl"
    proc = _driver(target.pid, out)
    try:
        start = _lines(out)
        wait_for(lambda: _lines(out) >= start + 300, what="300 lines from the compiled loop")
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    raw = out.read_bytes()
    assert raw.endswith(b"\n"), raw[-200:]
    lines = raw.split(b"\n")[:-1]
    assert all(json.loads(line) for line in lines)
    assert sum(COMMON_LINE.match(line) is not None for line in lines) == len(lines) - 1  # all but the header
    assert target.poll() is None


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_compiled_loop_cleanly(tmp_path, spawn, sig):
    target = _holder(spawn, tmp_path)
    out = tmp_path / "sig.jsonl"
    proc = _driver(target.pid, out)
    start = _lines(out)
    wait_for(lambda: _lines(out) >= start + 100, what="100 lines from the compiled loop")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    outcome = json.loads(stdout.strip().splitlines()[-1])
    assert outcome["end_reason"] == ("interrupted" if sig == signal.SIGINT else "terminated")
    assert outcome["compiled"] > 0
    _header, samples = read_jsonl(out)
    assert len(samples) == outcome["samples"]  # the batch cut short is counted, every line is whole
