"""Faults while recording, with real processes and real file systems (root-only parts skip elsewhere)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .conftest import memdoctor, memdoctor_popen, read_jsonl, wait_for


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@contextlib.contextmanager
def _tmpfs(tmp_path: Path, options: str):
    """A real tmpfs mounted for the test (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    mnt = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.integration
def test_disk_full_stops_cleanly_and_keeps_what_was_written(tmp_path, spawn):
    target = spawn(["sleep", "60"])
    with _tmpfs(tmp_path, "size=8k") as mnt:
        out = mnt / "t.jsonl"
        proc = memdoctor("watch", str(target.pid), "--interval", "5ms", "--duration", "3s", "-o", str(out), "--json")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        outcome = json.loads(proc.stdout)
        # Writing stopped, sampling did not: the recording ran its whole duration.
        assert outcome["end_reason"] == "duration"
        assert any("disk is full" in w for w in outcome["warnings"])
        # Every line that is in the file is whole: the trace still reads.
        header, samples = read_jsonl(out)
        assert header["memdoctor_trace"] == 1 and len(samples) > 10
        assert outcome["samples"] > len(samples)
        assert target.poll() is None
        result = memdoctor("analyze", str(out), "--json", check_code=0)
        assert json.loads(result.stdout)["samples"] == len(samples)


@pytest.mark.integration
def test_disk_full_during_run_never_stops_the_command(tmp_path):
    """Issue 19 item 10: the trace's disk fills while `run` records; the command under test runs to
    its own end (it used to be stopped with the recording), memdoctor says so in one line at once,
    keeps every whole line written, and its diagnosis covers every sample taken."""
    survived = tmp_path / "survived"
    with _tmpfs(tmp_path, "size=8k") as mnt:
        out = mnt / "t.jsonl"
        # The command's own end: after the disk is full (8 KiB at 5 ms a line: well under a second).
        script = ("import pathlib, time\n"
                  f"out = pathlib.Path({str(out)!r})\n"
                  "while out.stat().st_size < 4096: time.sleep(0.01)\n"
                  "time.sleep(1.0)\n"
                  f"pathlib.Path({str(survived)!r}).write_text('yes')\n")
        proc = memdoctor("run", "--interval", "5ms", "-o", str(out), "--json", "--", sys.executable, "-c", script,
                         timeout=120)
        assert "Traceback" not in proc.stderr
        outcome = json.loads(proc.stdout)
        assert survived.exists(), outcome["child_exit"]
        assert outcome["child_returncode"] == 0 and outcome["end_reason"] == "target-exited"
        said = [line for line in proc.stderr.splitlines() if "disk is full" in line]
        assert len(said) == 1 and "still sampling" in said[0], proc.stderr
        assert proc.returncode == 2  # the trace asked for is incomplete
        _header, samples = read_jsonl(out)
        assert len(samples) > 10 and outcome["samples"] > len(samples)
        assert outcome["diagnosis"]["samples"] == outcome["samples"]


@pytest.mark.integration
def test_trace_past_rlimit_fsize_stops_writing_not_the_command(tmp_path):
    """Issue 19 item 10 without root: RLIMIT_FSIZE on the recording (Python ignores SIGXFSZ, so
    the write fails with EFBIG) stops the trace like a full disk; the command runs to its end."""
    import resource

    survived = tmp_path / "survived"
    out = tmp_path / "t.jsonl"
    script = ("import pathlib, time\n"
              f"out = pathlib.Path({str(out)!r})\n"
              "while not out.exists() or out.stat().st_size < 4096: time.sleep(0.01)\n"
              "time.sleep(1.0)\n"
              f"pathlib.Path({str(survived)!r}).write_text('yes')\n")

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    proc = memdoctor("run", "--interval", "5ms", "-o", str(out), "--json", "--", sys.executable, "-c", script,
                     timeout=120, preexec_fn=limit_file_size)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-1000:])
    outcome = json.loads(proc.stdout)
    assert survived.exists() and outcome["child_returncode"] == 0
    assert any("File too large" in w for w in outcome["warnings"]), outcome["warnings"]
    _header, samples = read_jsonl(out)
    assert len(samples) > 10 and outcome["samples"] > len(samples)


@pytest.mark.integration
def test_read_only_file_system(tmp_path, spawn):
    target = spawn(["sleep", "60"])
    with _tmpfs(tmp_path, "size=1m,ro") as mnt:
        proc = memdoctor("watch", str(target.pid), "--duration", "1s", "-o", str(mnt / "t.jsonl"))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "cannot write trace" in proc.stderr and "Read-only file system" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.integration
def test_pid_reused_by_another_process_is_not_followed(tmp_path):
    """The target exits and its PID goes to a stranger: the recording ends, it does not switch."""
    if os.geteuid() != 0 or not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK):
        pytest.skip("steering PID reuse needs root (ns_last_pid)")
    target = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    out = tmp_path / "reuse.jsonl"
    watcher = memdoctor_popen("watch", str(target.pid), "--interval", "0.02", "-o", str(out), "--json")
    stranger = None
    try:
        wait_for(lambda: _lines(out) >= 10, what="10 samples")
        pid = target.pid
        target.stdin.close()
        target.wait(timeout=10)
        # Ask the kernel to hand out the same PID next, then start a stranger with it.
        for _ in range(50):
            Path("/proc/sys/kernel/ns_last_pid").write_text(str(pid - 1))
            candidate = subprocess.Popen(["sleep", "60"])
            if candidate.pid == pid:
                stranger = candidate
                break
            candidate.kill()
            candidate.wait()
        if stranger is None:
            pytest.skip("could not get the same PID again (another process took it)")
        stdout, stderr = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
        if stranger is not None:
            stranger.kill()
            stranger.wait()
    assert watcher.returncode == 0, stderr
    assert json.loads(stdout)["end_reason"] == "target-exited"
    _header, samples = read_jsonl(out)
    assert all(s["rss"] > 0 for s in samples)


@pytest.mark.integration
def test_fork_and_exec_are_followed(tmp_path):
    """The target execs another program (same PID) and forks a child that holds memory."""
    script = (
        "import os, sys, time\n"
        "time.sleep(0.8)\n"
        "os.execv(sys.executable, [sys.executable, '-c', "
        "'import os, time\\nif os.fork() == 0:\\n    x = bytearray(40 << 20)\\n"
        "    x[::4096] = b\"y\" * (len(x) // 4096)\\n    time.sleep(30)\\nelse:\\n    time.sleep(30)\\n'])\n"
    )
    out = tmp_path / "exec.jsonl"
    memdoctor("run", "--interval", "0.05", "--duration", "4s", "-o", str(out), "--", sys.executable, "-c", script,
              check_code=0)
    _header, samples = read_jsonl(out)
    late = [s for s in samples if s["t"] > 2.5]
    assert late and all(s["procs"] == 2 for s in late)
    assert all(s["rss"] >= s["rss_root"] + 40 * 1024**2 for s in late)


@pytest.mark.integration
def test_children_appearing_and_vanishing(tmp_path):
    script = (
        "import subprocess, sys, time\n"
        "for _ in range(3):\n"
        "    p = subprocess.Popen([sys.executable, '-c', 'import time; x = bytearray(30 << 20); "
        "x[::4096] = b\"z\" * (len(x) // 4096); time.sleep(0.8)'])\n"
        "    p.wait()\n"
        "    time.sleep(0.5)\n"
    )
    out = tmp_path / "churn.jsonl"
    memdoctor("run", "--interval", "0.05", "-o", str(out), "--", sys.executable, "-c", script, check_code=0)
    _header, samples = read_jsonl(out)
    procs = [s["procs"] for s in samples]
    # The child comes and goes three times: the tree grows to 2 and shrinks to 1 again.
    ups = sum(1 for a, b in itertools.pairwise(procs) if a == 1 and b == 2)
    assert ups >= 2, procs
    assert max(s["rss"] - s["rss_root"] for s in samples) > 25 * 1024**2
    assert samples[-1]["procs"] == 1


@pytest.mark.integration
def test_own_cpu_share_is_reported(tmp_path, spawn):
    target = spawn(["sleep", "60"])
    proc = memdoctor("watch", str(target.pid), "--interval", "10ms", "--duration", "2s", "--json", check_code=0)
    outcome = json.loads(proc.stdout)
    assert 0 < outcome["own_cpu_share"] < 1
    text = memdoctor("watch", str(target.pid), "--interval", "10ms", "--duration", "1s", check_code=0).stdout
    assert "% of one core" in text


@pytest.mark.integration
def test_memdoctor_killed_mid_sample_burst_never_leaves_partial_lines_but_the_last(tmp_path, spawn):
    target = spawn(["sleep", "60"])
    out = tmp_path / "burst.jsonl"
    for _ in range(3):
        proc = memdoctor_popen("watch", str(target.pid), "--interval", "1ms", "-o", str(out))
        wait_for(lambda: _lines(out) >= 50, what="50 lines")
        time.sleep(0)  # the kill lands wherever the loop happens to be
        proc.kill()
        proc.wait(timeout=10)
        lines = out.read_bytes().split(b"\n")
        complete = lines[:-1]
        assert all(json.loads(line) for line in complete)
        assert memdoctor("analyze", str(out), "--json").returncode == 0
