"""Run a line of Python inside a live CPython process through gdb (its machine interface).

How it stays safe (learned from how memray's attach and pyrasite work, written anew):
- The code runs only on a thread that holds the GIL at a point where CPython itself could run
  other Python code, and never while that thread is inside malloc:
  * a breakpoint on PyEval_SaveThread: any thread about to release the GIL (I/O, sleep, locks)
    holds it and has its state consistent, as when another thread would run next;
  * a harmless pending call, Py_AddPendingCall(PyCallable_Check, NULL), with a breakpoint on
    PyCallable_Check(NULL): reached by the main thread between two bytecodes, for a target
    busy in pure Python code that releases the GIL only to other threads;
  * when every thread is blocked in a system call (an idle server, a long time.sleep), nobody
    holds the GIL: the main thread takes it with PyGILState_Ensure and gives it back after.
- A deadline: when none of these happens in time (a thread computing in C code without ever
  releasing the GIL), the breakpoints are deleted and gdb detaches. The pending call may still
  fire later: it is PyCallable_Check(NULL), which does nothing. The target is left as it was.
- The command string is written into memory we malloc at the safe point and free afterwards;
  gdb's own string literals would be leaked in the target.
- gdb runs in its own session: a Ctrl-C on memdoctor does not reach it; memdoctor always
  deletes the breakpoints and detaches, and gdb detaches by itself if memdoctor dies (EOF on
  its input).
"""

from __future__ import annotations

import functools
import os
import platform
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from memdoctor.heap.python.target import TargetProcess, thread_states
from memdoctor.heap.runtimes import HeapError

TRACE = bool(os.environ.get("MEMDOCTOR_TRACE_GDB"))  # print each gdb command with a timestamp on stderr
TRACE_T0 = time.monotonic()
PROBE_S = 0.8  # after this long without a breakpoint hit, look whether the process is idle
ATTACH_TIMEOUT_S = 30.0
FIRST_ARG = {"x86_64": "$rdi", "amd64": "$rdi", "aarch64": "$x0", "arm64": "$x0", "ppc64le": "$r3",
             "s390x": "$r2"}
UNSAFE_FRAMES = ("malloc", "free", "calloc", "realloc", "_int_", "make_pending_calls", "_pop_pending_call",
                 "_push_pending_call", "take_gil", "drop_gil", "dl_", "_dl_")


class BusyTarget(HeapError):
    """No safe point was reached before the deadline; nothing was changed in the target."""


class CallsUnsupported(HeapError):
    """gdb could not call a function in the target: it failed to set the registers for the call, so the function
    did not run, but the general registers it did write may stay changed (a sleeping Python target died of it:
    calls_work). gdb 13 cannot write the extended register state of CPUs with AMX under Linux 6.x ("Couldn't write
    extended state status: Bad address", seen on a 6.18 kernel, 2026-12-07). calls_work keeps gdb from targets on
    such a machine; this is the last resort where the probe passed and the call still failed: capture.py tries
    lldb."""


# What gdb says when it cannot set the registers for a call into the target (CallsUnsupported).
REGISTER_WRITE_FAILED = ("Couldn't write extended state", "Couldn't write registers", "Couldn't write floating point")


def _call_failed(record: Record, pid: int, what: str) -> HeapError:
    """The error for a first call into the target that failed: CallsUnsupported where gdb could not set the
    registers for it (nothing ran), else a plain HeapError."""
    message = _msg(record)
    if any(text in message or text in record.text for text in REGISTER_WRITE_FAILED):
        return CallsUnsupported(f"gdb cannot call functions in process {pid} on this machine ({message.strip()}): "
                                "the agent did not run")
    return HeapError(f"{what} in process {pid}: {message}")


@dataclass
class Record:
    kind: str  # "result", "async", "stream"
    cls: str
    text: str
    token: int | None = None


@dataclass
class MIProcess:
    """gdb --interpreter=mi3 as a child process, one command at a time."""

    argv: list[str]
    proc: subprocess.Popen | None = None
    records: queue.Queue = field(default_factory=queue.Queue)
    log: list[str] = field(default_factory=list)
    token: int = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True,
                                     env={**os.environ, "LC_ALL": "C"})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            match = re.match(r"^(\d*)([\^*=~@&])(.*)$", line)
            if not match:
                continue
            token, sigil, rest = match.groups()
            if sigil == "^":
                cls, _, text = rest.partition(",")
                self.records.put(Record("result", cls, text, int(token) if token else None))
            elif sigil == "*":
                cls, _, text = rest.partition(",")
                self.records.put(Record("async", cls, text))
            elif sigil in "~&@":
                self.log.append(_unquote(rest))
        self.records.put(Record("eof", "eof", ""))

    def send(self, command: str) -> int:
        assert self.proc is not None and self.proc.stdin is not None
        self.token += 1
        try:
            self.proc.stdin.write(f"{self.token}{command}\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise HeapError("gdb exited unexpectedly") from None
        return self.token

    def run(self, command: str, timeout: float) -> Record:
        """Send a command and wait for its ^done/^running/^error."""
        if TRACE:
            sys.stderr.write(f"[gdb {time.monotonic() - TRACE_T0:8.3f}] {command[:100]}\n")
        token = self.send(command)
        deadline = time.monotonic() + timeout
        while True:
            record = self._next(deadline)
            if record is None:
                raise TimeoutError(command)
            if record.kind == "eof":
                raise HeapError("gdb exited unexpectedly: " + self.last_log())
            if record.kind == "result" and record.token == token:
                return record
            if record.kind == "async":
                self.pending_async.append(record)

    def wait_stopped(self, timeout: float) -> Record | None:
        deadline = time.monotonic() + timeout
        while self.pending_async:
            record = self.pending_async.pop(0)
            if record.cls == "stopped":
                return record
        while True:
            record = self._next(deadline)
            if record is None:
                return None
            if record.kind == "eof":
                raise HeapError("gdb exited unexpectedly: " + self.last_log())
            if record.kind == "async" and record.cls == "stopped":
                return record

    def _next(self, deadline: float) -> Record | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            return self.records.get(timeout=remaining)
        except queue.Empty:
            return None

    def last_log(self) -> str:
        lines = [ln.strip() for ln in self.log if ln.strip()]
        return lines[-1] if lines else "no output"

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __post_init__(self) -> None:
        self.pending_async: list[Record] = []


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    return text.replace("\\n", "\n").replace('\\"', '"').replace("\\t", "\t").replace("\\\\", "\\")


def _value(record: Record) -> str:
    match = re.search(r'value="([^"]*)"', record.text)
    return match.group(1) if match else ""


def _msg(record: Record) -> str:
    match = re.search(r'msg="((?:[^"\\]|\\.)*)"', record.text)
    return _unquote('"' + match.group(1) + '"') if match else record.text


def _attach_error(pid: int, message: str) -> HeapError:
    low = message.lower()
    if "no such process" in low:
        return HeapError(f"process {pid} exited before gdb could attach")
    if "not permitted" in low or "could not attach" in low or "permission" in low:
        return ptrace_denied(pid)
    return HeapError(f"gdb could not attach to process {pid}: {message}")


def ptrace_denied(pid: int) -> HeapError:
    """The one-line remedy when a debugger may not attach (gdb and lldb alike)."""
    scope = _ptrace_scope()
    why = f"kernel.yama.ptrace_scope is {scope}; " if scope not in (None, "0") else ""
    return HeapError(f"cannot attach to process {pid}: ptrace not permitted ({why}needs the target's user with "
                     "ptrace allowed, or CAP_SYS_PTRACE; in Docker add --cap-add=SYS_PTRACE); or start it under "
                     "`memdoctor run --heap-every` to snapshot without ptrace")


def _ptrace_scope() -> str | None:
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return None


def available() -> str | None:
    """gdb's path, where it can call functions in a process here (calls_work); None otherwise."""
    path = shutil.which("gdb")
    return path if path is not None and calls_work(path) else None


@functools.cache
def calls_work(gdb: str) -> bool:
    """Can gdb call a function in a process on this machine? Asked of a throwaway process of our own, never of a
    target: where gdb cannot set the registers for a call (CallsUnsupported), the call it tries still rewrites the
    stopped process's registers, and a Python target asleep in time.sleep came back with OSError errno 514
    (ERESTARTNOHAND) and died (gdb 13, a CPU with AMX, Linux 6.18; 2026-12-07). There, lldb injects instead."""
    probe = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = subprocess.run([gdb, "-nx", "-batch", "-p", str(probe.pid), "-ex", "print (int)getpid()"],
                             capture_output=True, text=True, timeout=ATTACH_TIMEOUT_S, check=False)
        text = out.stdout + out.stderr
        return not any(failed in text for failed in REGISTER_WRITE_FAILED)
    except (OSError, subprocess.TimeoutExpired):
        return True  # no verdict from the probe: the capture's own errors say what went wrong
    finally:
        probe.kill()
        probe.wait()


@dataclass
class Injection:
    """What happened: how the safe point was reached and how long the target was held."""

    safe_point: str
    stopped_s: float  # time the target spent stopped by gdb or running our code
    run_s: float


def run_python(target: TargetProcess, code: str, *, timeout_s: float, run_timeout_s: float) -> Injection:
    """Execute `code` (Python source) in the target at a safe point, or raise BusyTarget."""
    gdb = available()
    if gdb is None:
        raise HeapError("gdb is not installed")
    arch = platform.machine()
    arg_reg = FIRST_ARG.get(arch)
    argv = [gdb, "--interpreter=mi3", "-q", "-nx", "-iex", "set libthread-db-search-path /nonexistent",
            "-iex", "set auto-load off", "-iex", "set debuginfod enabled off", "-iex", "set auto-solib-add off",
            "-iex", "set pagination off", "-iex", "set confirm off", "-iex", "set mi-async on",
            "-iex", "set unwindonsignal on", "-iex", "set print thread-events off", "-iex", "set width 0"]
    mi = MIProcess(argv)
    mi.start()
    attached = False
    running = False
    started = time.monotonic()
    stopped_since = None
    held = 0.0
    try:
        mi.run("-gdb-version", 20)
        # Read the executable's symbols before the target is stopped.
        # Everything that needs no stopped process is done before attaching: the executable's and
        # the libraries' symbols are read at the addresses where the target mapped them.
        mi.run(f'-file-exec-and-symbols "/proc/{target.pid}/exe"', 60)
        preloaded = set()
        for name, path, base in _mapped_libraries(target):
            rec = mi.run(f'-interpreter-exec console "add-symbol-file {path} -o {base:#x}"', 60)
            if rec.cls == "done":
                preloaded.add(name)
        check = ('-data-evaluate-expression "(long)&PyRun_SimpleString + (long)&PyGILState_Ensure + '
                 '(long)&PyEval_SaveThread + (long)&Py_AddPendingCall"')
        checked = mi.run(check, 20).cls == "done"
        rec = mi.run(f"-target-attach {target.pid}", ATTACH_TIMEOUT_S)
        if rec.cls == "error":
            raise _attach_error(target.pid, _msg(rec))
        attached = True
        stopped_since = time.monotonic()
        mi.wait_stopped(10)
        for name in ("libc.so", "libpython"):
            if name not in preloaded:
                mi.run(f'-interpreter-exec console "sharedlibrary {name}"', 60)
        if not checked:
            rec = mi.run(check, 20)
            if rec.cls == "error":
                raise HeapError(f"process {target.pid} does not look like CPython ({_msg(rec)}): memdoctor "
                                "snapshots CPython 3.7+ processes")
        hits = []
        if arg_reg:
            rec = mi.run(f'-break-insert -c "{arg_reg} == 0" PyCallable_Check', 20)
            if rec.cls == "done":
                hits.append("pending-call")
                if not _thread_unsafe(mi):
                    mi.run('-data-evaluate-expression "(int)Py_AddPendingCall((int (*)(void *))PyCallable_Check, '
                           '(void *)0)"', 20)
        mi.run("-break-insert PyEval_SaveThread", 20)
        deadline = started + timeout_s
        probed = False
        safe_point = None
        while safe_point is None:
            mi.run("-exec-continue", 20)
            held += time.monotonic() - stopped_since
            stopped_since = None
            running = True
            wait = min(deadline, time.monotonic() + PROBE_S) if not probed else deadline
            stop = mi.wait_stopped(max(0.0, wait - time.monotonic()))
            if stop is None:
                # Nothing reached a safe point yet: stop everything and look.
                mi.run("-exec-interrupt", 20)
                stop = mi.wait_stopped(20)
                if stop is None:
                    raise HeapError(f"gdb could not stop process {target.pid}")
            running = False
            stopped_since = time.monotonic()
            if 'reason="breakpoint-hit"' in stop.text:
                if "PyEval_SaveThread" in stop.text:
                    rec = mi.run('-data-evaluate-expression "(long)PyErr_Occurred()"', 20)
                    if _value(rec) not in ("0", ""):
                        continue  # an exception is being raised in that thread: not a clean point
                    safe_point = "PyEval_SaveThread"
                else:
                    safe_point = "pending call"
                break
            idle = _all_blocked(target.pid)
            if idle and not _thread_unsafe(mi, main=target):
                safe_point = "idle main thread (PyGILState_Ensure)"
                break
            if time.monotonic() >= deadline:
                raise BusyTarget(f"process {target.pid} reached no safe point within {timeout_s:g}s (a thread is "
                                 "busy in C code without releasing the GIL?): gave up, breakpoints removed, detached; "
                                 "the target was not changed. Retry later or with a longer --timeout")
            probed = True
        mi.run("-break-delete", 20)
        ensure = safe_point.startswith("idle")
        run_started = time.monotonic()
        gil_state = None
        if ensure:
            rec = mi.run('-data-evaluate-expression "(int)PyGILState_Ensure()"', run_timeout_s)
            gil_state = _value(rec)
            if rec.cls == "error":
                raise _call_failed(rec, target.pid, "could not take the GIL")
        data = code.encode("utf-8") + b"\0"
        rec = mi.run(f'-data-evaluate-expression "(long)malloc({len(data)})"', 20)
        address = int(_value(rec) or "0")
        if rec.cls == "error":
            raise _call_failed(rec, target.pid, f"could not allocate {len(data)} bytes")
        if address == 0:
            raise HeapError(f"could not allocate {len(data)} bytes in process {target.pid}")
        try:
            rec = mi.run(f"-data-write-memory-bytes {address} {data.hex()}", 20)
            if rec.cls == "error":
                raise HeapError(f"could not write into process {target.pid}: {_msg(rec)}")
            rec = mi.run(f'-data-evaluate-expression "(int)PyRun_SimpleString((const char *){address})"',
                         run_timeout_s)
            if rec.cls == "error":
                raise HeapError(f"the agent could not run in process {target.pid}: {_msg(rec)}")
        finally:
            mi.run(f'-data-evaluate-expression "(void)free((void *){address})"', 20)
            if ensure and gil_state not in (None, ""):
                mi.run(f'-data-evaluate-expression "(void)PyGILState_Release({gil_state})"', 20)
        run_s = time.monotonic() - run_started
        return Injection(safe_point=safe_point, stopped_s=held + (time.monotonic() - stopped_since), run_s=run_s)
    except TimeoutError:
        raise HeapError(f"gdb did not answer in time while working on process {target.pid}; it was detached") \
            from None
    finally:
        _leave(mi, attached, running)


def _thread_unsafe(mi: MIProcess, main: TargetProcess | None = None) -> bool:
    """True when the selected thread (or the main thread) is inside the allocator, the GIL or the loader."""
    if main is not None:
        rec = mi.run("-thread-info", 20)
        match = re.search(r'id="(\d+)",target-id="[^"]*(?:LWP|process) ' + str(main.pid) + r'\b', rec.text)
        if match is None:
            return True
        mi.run(f"-thread-select {match.group(1)}", 20)
    rec = mi.run("-stack-list-frames 0 12", 20)
    funcs = re.findall(r'func="([^"]*)"', rec.text)
    return any(any(word in func for word in UNSAFE_FRAMES) for func in funcs)


def _mapped_libraries(target: TargetProcess) -> list[tuple[str, str, int]]:
    """(name, path as seen from here, load address) of libpython and libc in the target."""
    found: dict[str, tuple[str, str, int]] = {}
    try:
        with open(f"/proc/{target.pid}/maps", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 6 or parts[2].strip("0") != "":
            continue  # not the mapping at file offset 0
        path = parts[5].strip()
        base = os.path.basename(path)
        name = "libpython" if base.startswith("libpython") else "libc.so" if base.startswith("libc.so") else None
        if name is None or name in found or not path.startswith("/") or '"' in path or " " in path:
            continue
        local = target.host_path(path)
        if os.path.exists(local):
            found[name] = (name, local, int(parts[0].split("-")[0], 16))
    return list(found.values())


def _all_blocked(pid: int) -> bool:
    states = thread_states(pid)
    return bool(states) and all(state in ("syscall", "gone") for state in states.values())


def _leave(mi: MIProcess, attached: bool, running: bool) -> None:
    """Whatever happened: no breakpoint left behind, target detached and running, gdb gone."""
    try:
        if attached:
            if running:
                mi.run("-exec-interrupt", 10)
                mi.wait_stopped(10)
            mi.run("-break-delete", 10)
            mi.run("-target-detach", 20)
        mi.run("-gdb-exit", 5)
    except (HeapError, TimeoutError):
        pass
    finally:
        mi.close()
