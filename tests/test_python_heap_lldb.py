"""`memdoctor snapshot PID` through lldb where gdb is missing, and the message when neither is there.

Real lldb (Debian's package, installed by the test with apt-get when missing, as
tests/prometheus_util.py does for Prometheus), a real Python child (examples/python_heap/app.py).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from .conftest import assert_one_line_error, memdoctor
from .system_tools import require
from .test_python_heap import LEAKS, diff_json, release_busy, snapshot, start_app, start_busy


def ensure_lldb() -> None:
    """Skip (fail under CI) unless lldb is on PATH."""
    require("lldb", "lldb")


@pytest.fixture(scope="module")
def lldb_only_path(tmp_path_factory) -> str:
    """A PATH with lldb on it and no gdb."""
    ensure_lldb()
    folder = tmp_path_factory.mktemp("lldb-only-bin")
    os.symlink(shutil.which("lldb"), folder / "lldb")
    return str(folder)


def tracer_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    raise AssertionError("no TracerPid line")


@pytest.mark.integration
def test_snapshot_through_lldb_names_the_leaking_container(spawn, tmp_path: Path, lldb_only_path: str) -> None:
    leak, decoy = LEAKS["dict"]
    proc = start_app(spawn, tmp_path, "dict")
    # Once with gdb really absent from PATH, once with the knob (gdb is on PATH but not used).
    envs = [{"PATH": lldb_only_path}, {"MEMDOCTOR_DEBUGGER": "lldb"}]
    paths = []
    for i, env in enumerate(envs):
        path = tmp_path / f"lldb{i}.snap"
        meta = snapshot(proc.pid, path, extra_env=env)
        assert meta["method"] == "lldb" and meta["pid"] == proc.pid, meta
        assert meta["safe_point"] in ("pending call", "PyEval_SaveThread", "idle main thread (PyGILState_Ensure)")
        assert proc.poll() is None
        assert tracer_of(proc.pid) == 0  # lldb detached: the target is not left traced
        paths.append(path)
        time.sleep(0.5)  # the example keeps leaking meanwhile (200 requests/s)
    rows = diff_json(*paths)["rows"]
    assert rows and rows[0]["key"] == leak, [r["key"] for r in rows[:5]]
    assert rows[0]["bytes_growth"] > 0 and rows[0]["count_growth"] > 0
    assert any(r["key"] == decoy for r in rows)
    assert json.loads(paths[1].read_text())["method"] == "lldb"
    assert proc.poll() is None


@pytest.mark.integration
def test_neither_gdb_nor_lldb(spawn, tmp_path: Path) -> None:
    proc = start_app(spawn, tmp_path, "dict")
    out = memdoctor("snapshot", str(proc.pid), "-o", str(tmp_path / "x.snap"), extra_env={"PATH": "/nonexistent"})
    assert_one_line_error(out)
    assert "gdb" in out.stderr and "lldb" in out.stderr and "--heap-every" in out.stderr
    assert not (tmp_path / "x.snap").exists()
    # Asked for lldb where there is none: the same kind of line, naming it.
    out = memdoctor("snapshot", str(proc.pid), "-o", str(tmp_path / "x.snap"),
                    extra_env={"PATH": "/nonexistent", "MEMDOCTOR_DEBUGGER": "lldb"})
    assert_one_line_error(out)
    assert "lldb" in out.stderr and "--heap-every" in out.stderr
    assert proc.poll() is None and tracer_of(proc.pid) == 0


@pytest.mark.integration
def test_busy_target_times_out_through_lldb_untouched(tmp_path: Path, lldb_only_path: str) -> None:
    """A thread holding the GIL in C code: no safe point before the deadline; lldb leaves, nothing fires later."""
    started, done, err = tmp_path / "started", tmp_path / "done", tmp_path / "stderr"
    proc = start_busy(started, done, err)
    try:
        out = memdoctor("snapshot", str(proc.pid), "-o", str(tmp_path / "x.snap"), "--timeout", "1.5s",
                        extra_env={"PATH": lldb_only_path})
        assert_one_line_error(out)
        assert "no safe point" in out.stderr and "not changed" in out.stderr
        assert not (tmp_path / "x.snap").exists()
        assert proc.poll() is None and tracer_of(proc.pid) == 0
        # The call returns normally, with its result; the pending call left behind fires as a no-op.
        release_busy(proc, started, done)
        assert proc.poll() is None and err.read_text() == ""
    finally:
        proc.kill()
        proc.wait()


def _calls_unsupported(calls: list[int]):
    """gdb's run_python as it fails where gdb cannot set the registers for a call (gdb 13 with AMX under Linux 6.x,
    where gdb.calls_work's probe passed): it raises before the agent runs."""
    from memdoctor.heap.python import gdb

    def run_python(target, code, *, timeout_s, run_timeout_s):
        calls.append(target.pid)
        raise gdb._call_failed(gdb.Record("result", "error", '^error,msg="Couldn\'t write extended state status: '
                                          'Bad address."'), target.pid, "calling PyGILState_Ensure")
    return run_python


def test_a_register_write_failure_is_calls_unsupported_and_any_other_is_not() -> None:
    """gdb.CallsUnsupported is what lets capture try the next debugger: only for a call whose registers gdb could not
    set (nothing ran in the target); any other failed call stays a plain error (the agent may have run)."""
    from memdoctor.heap.python import gdb
    from memdoctor.heap.runtimes import HeapError

    for text in gdb.REGISTER_WRITE_FAILED:
        err = gdb._call_failed(gdb.Record("result", "error", f'^error,msg="{text}: Bad address."'), 7, "calling x")
        assert isinstance(err, gdb.CallsUnsupported) and "did not run" in str(err), err
    err = gdb._call_failed(gdb.Record("result", "error", '^error,msg="No symbol table is loaded."'), 7, "calling x")
    assert type(err) is HeapError and "No symbol table" in str(err), err


@pytest.mark.integration
def test_gdb_that_cannot_call_into_the_target_hands_the_capture_to_lldb(spawn, tmp_path: Path, monkeypatch) -> None:
    """gdb installed and passing its probe, but its call into the target fails to set the registers: the agent did
    not run, so capture tries lldb, which takes the snapshot; with no lldb, the error says gdb cannot call functions,
    and the target is left running and untraced either way."""
    ensure_lldb()
    from memdoctor.heap.python import capture, gdb, lldb
    from memdoctor.heap.runtimes import CaptureOptions, HeapError

    if gdb.available() is None:
        pytest.skip("gdb cannot call functions here: capture never tries it (gdb.calls_work)")
    monkeypatch.delenv("MEMDOCTOR_DEBUGGER", raising=False)
    calls: list[int] = []
    monkeypatch.setattr(gdb, "run_python", _calls_unsupported(calls))
    proc = start_app(spawn, tmp_path, "dict")
    meta = capture.capture(proc.pid, str(tmp_path / "x.snap"), options=CaptureOptions(timeout_s=30.0))
    assert calls == [proc.pid]  # gdb was tried first ...
    assert meta["method"] == "lldb" and (tmp_path / "x.snap").exists(), meta  # ... and lldb took the snapshot
    assert proc.poll() is None and tracer_of(proc.pid) == 0

    monkeypatch.setattr(lldb, "available", lambda: None)
    with pytest.raises(HeapError, match="cannot call functions"):
        capture.capture(proc.pid, str(tmp_path / "y.snap"), options=CaptureOptions(timeout_s=30.0))
    assert calls == [proc.pid, proc.pid] and not (tmp_path / "y.snap").exists()
    assert proc.poll() is None and tracer_of(proc.pid) == 0
