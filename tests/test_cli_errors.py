"""Bad input everywhere: one line on stderr, exit 2, no traceback, nothing recorded is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from .conftest import assert_one_line_error, memdoctor, memdoctor_popen, read_jsonl


@pytest.mark.parametrize("args", [
    ["watch", "999999999", "--duration", "1s"],
    ["watch", "0"],
    ["watch", "--name", "no-such-process-for-memdoctor-xyz"],
    ["watch", "--name", "([unclosed"],
    ["watch"],
    ["watch", "1", "--name", "x"],
    ["watch", "--cgroup", "/tmp"],
    ["run", "--interval", "1s"],
    ["run", "--", "/no/such/command-memdoctor"],
    ["analyze", "/no/such/file.jsonl"],
    ["analyze", "/"],
    ["analyze", "x.csv", "--format", "parquet"],
    ["analyze", "--bogus-option"],
    ["nosuchcommand"],
])
def test_bad_arguments(args):
    assert_one_line_error(memdoctor(*args))


@pytest.mark.parametrize("option", [
    ["--interval", "0"], ["--interval", "0.0001"], ["--interval", "fast"], ["--duration", "5parsecs"],
    ["--duration", "0"], ["--limit", "12parsecs"], ["--limit", "0"], ["--max-growth", "5MB"],
    ["--detail-every", "-1s"],
])
@pytest.mark.parametrize("command", ["run", "watch"])
def test_malformed_sizes_and_durations(command, option, tmp_path):
    target = ["--", sys.executable, "-c", "pass"] if command == "run" else [str(os.getpid())]
    out = tmp_path / "never.jsonl"
    if command == "watch":
        proc = memdoctor("watch", *target, *option, "-o", str(out))
    else:
        proc = memdoctor("run", *option, "-o", str(out), *target)
    assert_one_line_error(proc)
    assert not out.exists(), "nothing should be created before the options are valid"


@pytest.mark.parametrize("path_kind", ["directory", "missing-parent", "read-only-dir"])
def test_unwritable_output(tmp_path, path_kind):
    if path_kind == "directory":
        out = tmp_path
    elif path_kind == "missing-parent":
        out = tmp_path / "no" / "such" / "t.jsonl"
    else:
        if os.geteuid() == 0:
            out = "/proc/self/t.jsonl"  # root ignores directory modes: /proc refuses new files
        else:
            ro = tmp_path / "ro"
            ro.mkdir(mode=0o500)
            out = ro / "t.jsonl"
    proc = memdoctor("watch", str(os.getpid()), "--duration", "1s", "-o", str(out))
    assert_one_line_error(proc)
    assert "cannot write trace" in proc.stderr
    # `run` must not start the command when its trace cannot be written.
    marker = tmp_path / "started"
    proc = memdoctor("run", "-o", str(out), "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert_one_line_error(proc)
    assert not marker.exists()


@pytest.mark.parametrize(("name", "content"), [
    ("empty.jsonl", b""),
    ("random.bin", os.urandom(4096)),
    ("junk.csv", b"timestamp,rss_bytes\nfoo,bar\n1,zz\n,\n"),
    ("words.txt", b"hello there\nthis is not a trace\n"),
    ("header-only.jsonl", b'{"memdoctor_trace": 1, "pid": 1}\n'),
    ("no-columns.csv", b"a,b,c\n1,2,3\n"),
], ids=lambda value: value if isinstance(value, str) else "")  # random bytes: an id that is the same everywhere
def test_unreadable_traces(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    proc = memdoctor("analyze", str(path))
    assert_one_line_error(proc)
    proc = memdoctor("analyze", str(path), "--json")
    assert_one_line_error(proc)
    assert proc.stdout == ""


def test_trace_cut_mid_line_still_analyses(tmp_path):
    path = tmp_path / "cut.jsonl"
    lines = ['{"memdoctor_trace":1,"interval_s":0.1}'] + [f'{{"t":{i / 10},"rss":{10_000_000 + i}}}'
                                                           for i in range(100)]
    text = "\n".join(lines)
    path.write_text(text[:-7])  # no final newline, last sample cut
    proc = memdoctor("analyze", str(path), "--json", check_code=0)
    result = json.loads(proc.stdout)
    assert result["samples"] == 99
    assert any("cut off" in e for e in result["evidence"])


def test_junk_rows_are_counted_in_the_evidence(tmp_path):
    path = tmp_path / "mixed.csv"
    rows = ["timestamp,rss_bytes"] + [f"{i},{50_000_000 + 1000 * i}" for i in range(200)]
    rows[5] = "junk"
    rows[6] = "1,oops"
    path.write_text("\n".join(rows) + "\n")
    result = json.loads(memdoctor("analyze", str(path), "--json", check_code=0).stdout)
    assert result["samples"] == 198
    assert any("2 unparseable rows" in e for e in result["evidence"])


def test_debug_shows_the_traceback(tmp_path):
    proc = memdoctor("--debug", "analyze", str(tmp_path / "missing.jsonl"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_unknown_metric(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"memdoctor_trace":1}\n' + "".join(f'{{"t":{i},"rss":{i + 1}}}\n' for i in range(30)))
    proc = memdoctor("analyze", str(path), "--metric", "pss")
    assert_one_line_error(proc)
    assert "no 'pss' series" in proc.stderr


@pytest.mark.integration
def test_target_that_exits_mid_recording_keeps_its_trace(tmp_path):
    out = tmp_path / "short.jsonl"
    proc = memdoctor("run", "--interval", "0.05", "--duration", "30s", "-o", str(out), "--json", "--",
                     sys.executable, "-c", "import time; time.sleep(1.0)", check_code=0)
    outcome = json.loads(proc.stdout)
    assert outcome["end_reason"] == "target-exited"
    _header, samples = read_jsonl(out)
    assert len(samples) == outcome["samples"] >= 10


@pytest.mark.integration
@pytest.mark.parametrize(("trace", "code"), [("node_healthy_server_20ms_a.jsonl", 0),
                                             ("node_server_leak_20ms.jsonl", 1)])
def test_a_reader_that_stops_reading_does_not_change_the_result(trace: str, code: int) -> None:
    """`memdoctor gate --trace T | head -1`: the reader closes the pipe before the result is printed. The exit
    code is still the gate's (a passing gate exited 1, rich's default on a broken pipe), with nothing on stderr
    (no "internal error: BrokenPipeError")."""
    import subprocess

    from .conftest import cli_env

    path = os.path.join(os.path.dirname(__file__), "data", "gate", trace)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before memdoctor writes its first byte
    try:
        proc = subprocess.run([sys.executable, "-m", "memdoctor", "gate", "--trace", path], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120, env=cli_env())
    finally:
        os.close(write_end)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr == ""


# --- a review of every command's bad input (2026-12-04); each failed on 15d3601 -------------------------

SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sample_traces",
                      "python_healthy_worker.jsonl")


@pytest.mark.parametrize("args", [
    ["analyze", SAMPLE, "--limit", "0"],          # was exit 0, judged against the machine's RAM
    ["gate", "--trace", SAMPLE, "--limit", "0"],
    ["report", SAMPLE, "--limit", "0"],
    ["compare", SAMPLE, SAMPLE, "--limit", "0"],
    ["gate", "--trace", SAMPLE, "--max-rss", "0"],  # was accepted, and failed every run (an end-to-end review)
    ["gate", "--trace", SAMPLE, "--fail-on", "no-leak"],  # was FAILED, exit 1, although "takes leak or inconclusive"
    ["gate", "--trace", SAMPLE, "--baseline", sys.executable],  # was "internal error: UnicodeDecodeError"
    ["fleet", "--prometheus", "http://127.0.0.1:9", "--basic-auth-file", sys.executable],  # the same
    ["gate", "--duration", "2s", "--load", "/no/such/load-generator", "--", "sleep", "5"],  # FileNotFoundError
    ["report", SAMPLE, "--format", "md", "-o", "/"],  # IsADirectoryError
    ["report", SAMPLE, "--format", "md", "-o", "/no/such/dir/r.md"],  # FileNotFoundError
    ["report", SAMPLE, "--plots", SAMPLE],  # FileExistsError
])
def test_bad_input_found_by_review_is_one_line(args):
    proc = memdoctor(*args)
    assert_one_line_error(proc)
    assert "internal error" not in proc.stderr, proc.stderr


@pytest.mark.integration
def test_a_zombie_is_not_watched(tmp_path):
    """A zombie has no memory: `watch` said "recorded 0 samples over 0ms (target exited)", exit 0, and doctor
    left a trace file of no sample in the working directory."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        from memdoctor.sampling.procfs import stat_fields

        while stat_fields(child.pid)[0] != "Z":
            os.sched_yield()  # exits at once; not reaped until wait() below
        for args in (["watch", str(child.pid), "--duration", "2s"], ["doctor", str(child.pid), "--max-time", "5s"]):
            proc = memdoctor(*args, cwd=str(tmp_path))
            assert_one_line_error(proc)
            assert "zombie" in proc.stderr
        assert list(tmp_path.iterdir()) == []
    finally:
        child.wait()


@pytest.mark.integration
def test_a_command_that_exits_before_its_first_sample_is_one_answer(tmp_path):
    """`run -- false` gave exit 2 "exited before it could be sampled" on a busy machine and exit 0 "recorded
    0 samples" on an idle one: which of two paths a quick exit took. Both are the one line now."""
    for _ in range(3):
        proc = memdoctor("run", "--", "false")
        assert_one_line_error(proc)
        assert "exited before it could be sampled" in proc.stderr


@pytest.mark.integration
def test_an_interrupted_gate_does_not_pass(tmp_path):
    """Ctrl-C (or a cancelled CI job's SIGTERM) 2 s into a 60 s gate printed "gate PASSED ... the command ran
    for the whole gate and was stopped by memdoctor", exit 0."""
    import signal

    from .conftest import memdoctor_popen, wait_for

    out = tmp_path / "g.jsonl"
    proc = memdoctor_popen("gate", "--interval", "100ms", "--duration", "60s", "-o", str(out), "--",
                           sys.executable, "-c", "import time; time.sleep(120)", start_new_session=True)
    try:
        # 40 samples: enough for a verdict of their own (20 are needed), so only the interruption can fail it.
        wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= 40, 60, "40 samples")
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 1, (stdout[-2000:], stderr[-2000:])
    said = " ".join((stdout + stderr).split())  # rich wraps long lines
    assert "PASSED" not in said and "an interrupted gate is no verdict" in said, said


def test_report_has_the_json_option_every_command_has():
    """`report --json TRACE` was a usage error (only --format json existed)."""
    as_json = memdoctor("report", SAMPLE, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == json.loads(memdoctor("report", SAMPLE, "--format", "json").stdout)
    assert_one_line_error(memdoctor("report", SAMPLE, "--json", "--format", "html"))


def test_every_help_has_examples_and_every_command_json():
    """The conventions every command follows (typer/rich): --help with examples (the top level had none),
    and --json."""
    top = memdoctor("--help")
    assert top.returncode == 0 and "Examples:" in top.stdout, top.stdout
    commands = [line.split()[0] for line in top.stdout.split("Commands:")[1].split("Examples:")[0].splitlines()
                if line.strip()]
    assert len(commands) >= 10, commands
    for name in commands:
        text = memdoctor(name, "--help").stdout
        assert "Examples" in text and "--json" in text, name


@pytest.mark.parametrize(("args", "says"), [
    (["snapshot", "1", "-o", "x.snap", "--count", "2", "--every", "0"], "--every"),  # was accepted
    (["snapshot", "1", "-o", "x.snap", "--timeout", "0"], "--timeout"),
    (["snapshot", "1", "-o", "x.snap", "--allocations", "0"], "--allocations"),
    (["doctor", "--max-time", "0", "--", "sleep", "5"], "--max-time"),
    (["doctor", "123", "--", "sleep", "5"], "a PID or a command, not both"),  # was "command not found: 123"
])
def test_options_that_cannot_be_met_say_which(args, says, tmp_path):
    proc = memdoctor(*args, cwd=str(tmp_path))
    assert_one_line_error(proc)
    assert says in proc.stderr, proc.stderr


def test_one_snapshot_and_a_file_that_is_none_says_which_is_which(tmp_path):
    """`report A.snap garbage.bin` said only "give at least two heap snapshots": the garbage had been taken
    for the trace, and the message did not say so."""
    snap = os.path.join(os.path.dirname(SAMPLE), "incidents", "sse_clients.jsonl.heap.24126.001.snap")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01 not a snapshot")
    proc = memdoctor("report", snap, str(garbage))
    assert_one_line_error(proc)
    assert "garbage.bin is not a heap snapshot" in proc.stderr, proc.stderr


@pytest.mark.integration
def test_a_command_that_exits_after_one_sample_is_the_same_one_answer(tmp_path):
    """`run -- false` in CI was sampled once before it exited, and read exit 0 "only 1 usable samples over 0ms"
    where its other runs read exit 2 "exited before it could be sampled". One sample is no series either: the
    same one line (a 60 s interval over a 0.5 s program gets exactly one, however busy the machine), and the trace
    keeps the sample."""
    out = tmp_path / "t.jsonl"
    proc = memdoctor("run", "-i", "60s", "-o", str(out), "--", sys.executable, "-c", "import time; time.sleep(0.5)")
    assert_one_line_error(proc)
    assert "exited before it could be sampled twice" in proc.stderr
    assert len(out.read_text().splitlines()) == 2  # the header and the one sample


@pytest.mark.integration
def test_a_watched_process_that_exits_after_one_sample_is_the_same_one_answer(tmp_path):
    """`watch PID` of a process that ended after its first sample printed a table ("inconclusive, stable, 0 B/h,
    confidence 0.00") and exit 0, where `run` of the same program says in one line that it exited before it could
    be sampled twice. The target ends once the first sample is in the trace (60 s interval: no second one)."""
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    out = tmp_path / "t.jsonl"
    watcher = memdoctor_popen("watch", str(target.pid), "-i", "60s", "-o", str(out))
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and len(out.read_text().splitlines()) >= 2) and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the first sample to be written, not an assertion
        target.kill()
        target.wait()
        _, stderr = watcher.communicate(timeout=60)
    finally:
        for proc in (target, watcher):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert watcher.returncode == 2, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip() and "collecting samples" not in ln]
    assert lines == [f"memdoctor: PID {target.pid} exited before it could be sampled twice (its process ended)"], stderr
    assert len(out.read_text().splitlines()) == 2  # the header and the one sample
