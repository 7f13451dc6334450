"""Run a line of Python inside a live CPython process through lldb, where gdb is missing.

The same guarantees as the gdb driver (gdb.py): the code runs only at a safe point (a harmless
pending call reached between two bytecodes, a thread entering PyEval_SaveThread, or an idle main
thread that takes the GIL), never on a thread stopped inside the allocator, the GIL or the
loader; at the deadline the breakpoints are deleted and lldb detaches, and the pending call that
may fire later is PyCallable_Check(NULL), which does nothing.

lldb is driven through its own Python: `lldb --batch -o "command script import lldb_driver.py"`.
The driver (lldb_driver.py, standard library and lldb's SB API only, since lldb's Python is the
system's and not memdoctor's) reads its request from the environment and writes what happened
to a JSON file. Some distributions ship lldb with a wrong Python path (Debian 12: `lldb -P`
names a directory that does not exist and `script` fails with "No module named
'lldb.embedded_interpreter'"): the directory that holds lldb's Python module is found next to
the lldb binary and given to it in PYTHONPATH.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memdoctor.heap.python.gdb import BusyTarget, Injection, _mapped_libraries, ptrace_denied
from memdoctor.heap.python.target import TargetProcess
from memdoctor.heap.runtimes import HeapError

DRIVER = Path(__file__).with_name("lldb_driver.py")
TRACE = bool(os.environ.get("MEMDOCTOR_TRACE_LLDB"))  # print the driver's phases with their times on stderr
PROBE_S = 0.8
ATTACH_TIMEOUT_S = 30.0


def available() -> str | None:
    return shutil.which("lldb")


def python_dir(lldb: str) -> str | None:
    """The directory holding lldb's Python module (`lldb/embedded_interpreter.py`), or None."""
    candidates: list[str] = []
    real = os.path.realpath(lldb)
    root = os.path.dirname(os.path.dirname(real))  # /usr/lib/llvm-14/bin/lldb -> /usr/lib/llvm-14
    for pattern in ("lib/python3*/dist-packages", "lib/python3*/site-packages", "lib*/python3*/site-packages"):
        candidates += sorted(glob.glob(os.path.join(root, pattern)), reverse=True)
    try:
        out = subprocess.run([lldb, "-P"], capture_output=True, text=True, timeout=20)
        candidates += [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("/")]
    except (OSError, subprocess.TimeoutExpired):
        pass
    for path in candidates:
        if os.path.exists(os.path.join(path, "lldb", "embedded_interpreter.py")):
            return path
    return None


def run_python(target: TargetProcess, code: str, *, timeout_s: float, run_timeout_s: float) -> Injection:
    """Execute `code` (Python source) in the target at a safe point, or raise BusyTarget."""
    lldb = available()
    if lldb is None:
        raise HeapError("lldb is not installed")
    pydir = python_dir(lldb)
    if pydir is None:
        raise HeapError("lldb is installed without its Python module (install python3-lldb, e.g. apt-get install "
                        "lldb), or install gdb")
    with tempfile.TemporaryDirectory(prefix="memdoctor-lldb-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        request = {"pid": target.pid, "code": code, "timeout_s": timeout_s, "run_timeout_s": run_timeout_s,
                   "probe_s": PROBE_S, "arch": platform.machine(), "result": result_path, "parent": os.getpid(),
                   "exe": f"/proc/{target.pid}/exe",
                   "preload": [path for _name, path, _base in _mapped_libraries(target)]}
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
        # lldb's embedded Python finds its home through the first `python3` on PATH: a virtualenv or pyenv
        # python3 first on memdoctor's PATH would give it another Python's library (no `six`, wrong version).
        front = [os.path.dirname(lldb), os.path.dirname(os.path.realpath(lldb))]
        env.update({"PYTHONPATH": pydir, "LC_ALL": "C", "MEMDOCTOR_LLDB_REQUEST": json.dumps(request),
                    "PATH": os.pathsep.join([*front, env.get("PATH", "")])})
        argv = [lldb, "--batch", "--no-lldbinit", "--no-use-colors",
                "-o", f"command script import {json.dumps(str(DRIVER))}"]
        limit = ATTACH_TIMEOUT_S + timeout_s + run_timeout_s + 30
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                output, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
        try:
            with open(result_path, encoding="utf-8") as fh:
                result = json.load(fh)
        except (OSError, ValueError):
            last = [line.strip() for line in (output or "").splitlines() if line.strip()]
            raise HeapError(f"lldb could not inject into process {target.pid}: "
                            f"{last[-1] if last else 'no output'}") from None
    wait_untraced(target.pid)
    if TRACE:
        sys.stderr.write(f"[lldb] {json.dumps(result.get('phases'))}\n")
    if result.get("ok"):
        return Injection(safe_point=result["safe_point"], stopped_s=float(result["stopped_s"]),
                         run_s=float(result["run_s"]))
    raise _error(target, result.get("kind", ""), str(result.get("error", "unknown error")), timeout_s)


def _error(target: TargetProcess, kind: str, message: str, timeout_s: float) -> HeapError:
    pid = target.pid
    low = message.lower()
    if kind == "busy":
        return BusyTarget(f"process {pid} reached no safe point within {timeout_s:g}s (a thread is busy in C code "
                          "without releasing the GIL?): gave up, breakpoints removed, detached; the target was not "
                          "changed. Retry later or with a longer --timeout")
    if kind == "gone" or (kind == "attach" and ("no such process" in low or "exited" in low)):
        return HeapError(f"process {pid} exited before lldb could finish")
    if kind == "attach":
        if "not permitted" in low or "permission" in low or "ptrace" in low:
            return ptrace_denied(pid)
        return HeapError(f"lldb could not attach to process {pid}: {message}")
    if kind == "not-python":
        return HeapError(f"process {pid} does not look like CPython ({message}): memdoctor snapshots CPython 3.7+ "
                         "processes")
    return HeapError(f"lldb failed while working on process {pid}: {message}; it was detached")


def wait_untraced(pid: int, timeout_s: float = 5.0) -> None:
    """Wait until the kernel shows no tracer on `pid` (lldb-server may detach a moment after lldb exits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
                if "TracerPid:\t0\n" in fh.read():
                    return
        except OSError:
            return
        time.sleep(0.01)
