"""The lldb side of memdoctor's lldb driver: runs INSIDE lldb's own Python (`command script import`).

It imports nothing from memdoctor (lldb's Python is the system's, not memdoctor's), only the
standard library and lldb's SB API. It reads its request (JSON) from the environment variable
MEMDOCTOR_LLDB_REQUEST, does one injection with the same safe points and deadline as the gdb
driver (see gdb.py), and writes what happened (JSON) to the request's "result" path:
- a harmless pending call, Py_AddPendingCall(PyCallable_Check, NULL), with a breakpoint on
  PyCallable_Check whose first argument is NULL: the main thread between two bytecodes;
- a breakpoint on PyEval_SaveThread: a thread about to release the GIL holds it, consistently;
- every thread blocked in a system call: the main thread takes the GIL with PyGILState_Ensure;
- none of these before the deadline: breakpoints deleted, detached, nothing changed (the pending
  call may still fire later: PyCallable_Check(NULL) does nothing).
Threads stopped inside malloc, free, the GIL or the loader are never used to run code, and
every call runs with the other threads resumed (as gdb does), so no lock stays held by a stopped
thread while our code needs it. Whatever happens, the breakpoints are deleted and lldb detaches.
"""

from __future__ import annotations

import json
import os
import time

import lldb  # lldb's own module: this file is only ever loaded by lldb

UNSAFE_FRAMES = ("malloc", "free", "calloc", "realloc", "_int_", "make_pending_calls", "_pop_pending_call",
                 "_push_pending_call", "take_gil", "drop_gil", "dl_", "_dl_")
FIRST_ARG = {"x86_64": "$rdi", "amd64": "$rdi", "aarch64": "$x0", "arm64": "$x0", "ppc64le": "$r3",
             "s390x": "$r2"}
NO_RESULT = 0x1001  # lldb's "error" for an expression of type void (kNoResult)
NEEDED = ("PyRun_SimpleString", "PyGILState_Ensure", "PyGILState_Release", "PyEval_SaveThread",
          "Py_AddPendingCall", "PyCallable_Check", "PyErr_Occurred")


class Failure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Session:
    def __init__(self, debugger, req: dict) -> None:
        self.debugger = debugger
        self.req = req
        self.pid = int(req["pid"])
        self.target = None
        self.process = None
        self.listener = None
        self.attached = False
        self.running = False
        self.stopped_since = None
        self.held = 0.0
        self.t0 = time.monotonic()
        self.phases: list = []  # (what, seconds since start): returned in the result, for MEMDOCTOR_TRACE_LLDB

    def mark(self, what: str) -> None:
        self.phases.append((what, round(time.monotonic() - self.t0, 4)))

    # ------------------------------------------------------------------ helpers
    def options(self, timeout_s: float):
        opts = lldb.SBExpressionOptions()
        opts.SetIgnoreBreakpoints(True)
        opts.SetUnwindOnError(True)
        opts.SetStopOthers(False)  # the other threads run meanwhile (they may hold a lock our call needs)
        opts.SetTimeoutInMicroSeconds(int(timeout_s * 1e6))
        opts.SetTryAllThreads(True)
        opts.SetLanguage(lldb.eLanguageTypeC)
        opts.SetSuppressPersistentResult(True)
        return opts

    def evaluate(self, thread, expr: str, timeout_s: float = 20.0) -> int:
        # Evaluated in the target's context on the selected thread, not in a frame's: a frame's context
        # makes lldb read the debug information of the code where the thread stopped.
        self.process.SetSelectedThread(thread)
        value = self.target.EvaluateExpression(expr, self.options(timeout_s))
        error = value.GetError()
        if expr.startswith("(void)") and error.GetError() == NO_RESULT:
            return 0
        if not error.Success():
            text = (error.GetCString() or "failed").strip().splitlines() or ["failed"]
            raise Failure("eval", f"{expr.split('(', 2)[1].split(')')[0]} call: {' '.join(text)}")
        return value.GetValueAsSigned()

    def python_module(self):
        """libpython's module, or the executable's when CPython is linked statically."""
        for i in range(self.target.GetNumModules()):
            module = self.target.GetModuleAtIndex(i)
            if (module.GetFileSpec().GetFilename() or "").startswith("libpython"):
                return module
        return self.target.GetModuleAtIndex(0)

    def address(self, module, name: str) -> int:
        """The load address of an exported function (no debug information needed).

        Looked up in one module: a lookup in the whole target reads every library's symbols while
        the target is stopped."""
        found = module.FindSymbols(name)
        for i in range(found.GetSize()):
            symbol = found.GetContextAtIndex(i).GetSymbol()
            if symbol.IsValid() and symbol.GetType() == lldb.eSymbolTypeCode:
                addr = symbol.GetStartAddress().GetLoadAddress(self.target)
                if addr not in (0, lldb.LLDB_INVALID_ADDRESS):
                    return addr
        return 0

    def wait_stopped(self, timeout_s: float) -> bool:
        event = lldb.SBEvent()
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.GetState() == lldb.eStateStopped and not self.running:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if os.getppid() != self.req.get("parent", os.getppid()):
                raise Failure("orphan", "memdoctor went away")
            if not self.listener.GetNextEvent(event):  # WaitForEvent takes whole seconds: poll instead
                time.sleep(min(0.005, remaining))
                continue
            if not lldb.SBProcess.EventIsProcessEvent(event):
                continue
            state = lldb.SBProcess.GetStateFromEvent(event)
            if state == lldb.eStateStopped and not lldb.SBProcess.GetRestartedFromEvent(event):
                self.running = False
                return True
            if state in (lldb.eStateExited, lldb.eStateDetached, lldb.eStateCrashed):
                raise Failure("gone", f"process {self.pid} exited during the injection")

    def resume(self) -> None:
        self.held += time.monotonic() - self.stopped_since
        self.stopped_since = None
        event = lldb.SBEvent()
        while self.listener.GetNextEvent(event):  # stale events (the attach's stop) must not count
            pass
        self.running = True
        self.mark("resume")
        error = self.process.Continue()
        if not error.Success():
            raise Failure("lldb", f"lldb could not resume process {self.pid}: {error.GetCString()}")

    def interrupt(self) -> None:
        self.process.SendAsyncInterrupt()
        if not self.wait_stopped(20):
            raise Failure("lldb", f"lldb could not stop process {self.pid}")

    def unsafe(self, thread) -> bool:
        for i in range(min(12, thread.GetNumFrames())):
            name = thread.GetFrameAtIndex(i).GetFunctionName() or ""
            if any(word in name for word in UNSAFE_FRAMES):
                return True
        return False

    def all_blocked(self) -> bool:
        states = []
        try:
            tids = [t for t in os.listdir(f"/proc/{self.pid}/task") if t.isdigit()]
        except OSError:
            return False
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/syscall") as fh:
                    text = fh.read().split()
            except OSError:
                continue
            states.append(bool(text) and text[0] not in ("running", "-1"))
        return bool(states) and all(states)

    # ------------------------------------------------------------------ the injection
    def run(self) -> dict:
        req = self.req
        started = time.monotonic()
        self.debugger.SetAsync(True)
        exe = req.get("exe")
        # Everything that needs no stopped process is done before attaching: symbols are read only when
        # looked up (a whole-target lookup would read every library's), libpython's and libc's are read
        # now (lldb shares modules by file and UUID).
        self.debugger.HandleCommand("settings set target.preload-symbols false")
        self.target = self.debugger.CreateTarget(exe) if exe else self.debugger.CreateTarget("")
        if not self.target or not self.target.IsValid():
            self.target = self.debugger.CreateTarget("")
        for path in req.get("preload", []):
            module = self.target.AddModule(path, None, None)
            if module and module.IsValid():
                module.GetNumSymbols()
        # Our own listener: the debugger's is drained by lldb's event thread (its "Process stopped" lines).
        self.listener = lldb.SBListener("memdoctor")
        error = lldb.SBError()
        self.stopped_since = time.monotonic()  # the attach stops the target: from here it is held
        self.process = self.target.AttachToProcessWithID(self.listener, self.pid, error)
        if not error.Success() or not self.process.IsValid():
            raise Failure("attach", error.GetCString() or "attach failed")
        self.attached = True
        self.mark("attached")
        self.wait_stopped(10)
        module = self.python_module()
        addresses = {name: self.address(module, name) for name in NEEDED}
        self.mark("symbols")
        missing = [name for name, addr in addresses.items() if not addr]
        if missing:
            raise Failure("not-python", "no " + ", ".join(missing))
        main = self.process.GetThreadByID(self.pid) or self.process.GetThreadAtIndex(0)
        arg = FIRST_ARG.get(req.get("arch", ""))
        pending_bp = None
        if arg:
            pending_bp = self.target.BreakpointCreateByAddress(addresses["PyCallable_Check"])
            pending_bp.SetCondition(f"{arg} == 0")
            unsafe = not main.IsValid() or self.unsafe(main)
            self.mark("frames")
            if not unsafe:
                self.evaluate(main, f"(int)((int (*)(void *, void *)){addresses['Py_AddPendingCall']:#x})"
                                    f"((void *){addresses['PyCallable_Check']:#x}, (void *)0)")
        self.mark("pending call armed")
        save_bp = self.target.BreakpointCreateByAddress(addresses["PyEval_SaveThread"])
        deadline = started + float(req["timeout_s"])
        probe_s = float(req.get("probe_s", 0.8))
        probed = False
        safe_point = None
        thread = None
        while safe_point is None:
            self.resume()
            wait = min(deadline, time.monotonic() + probe_s) if not probed else deadline
            if not self.wait_stopped(max(0.0, wait - time.monotonic())):
                self.interrupt()  # nothing reached a safe point yet: stop everything and look
            self.running = False
            self.stopped_since = time.monotonic()
            self.mark("stopped")
            hit = self._breakpoint_hit(pending_bp, save_bp)
            if hit is not None:
                which, thread = hit
                if which == "save":
                    self.process.SetSelectedThread(thread)
                    if self.evaluate(thread, f"(long)((void *(*)(void)){addresses['PyErr_Occurred']:#x})()") != 0:
                        continue  # an exception is being raised in that thread: not a clean point
                    safe_point = "PyEval_SaveThread"
                else:
                    safe_point = "pending call"
                break
            if self.all_blocked() and main.IsValid() and not self.unsafe(main):
                thread = main
                safe_point = "idle main thread (PyGILState_Ensure)"
                break
            if time.monotonic() >= deadline:
                raise Failure("busy", "no safe point")
            probed = True
        self.mark("safe point")
        self.target.DeleteAllBreakpoints()
        self.process.SetSelectedThread(thread)
        run_timeout = float(req["run_timeout_s"])
        run_started = time.monotonic()
        gil_state = None
        if safe_point.startswith("idle"):
            gil_state = self.evaluate(thread, f"(int)((int (*)(void)){addresses['PyGILState_Ensure']:#x})()",
                                      run_timeout)
        data = req["code"].encode("utf-8") + b"\0"
        error = lldb.SBError()
        # lldb maps the page itself (no expression to compile while the target is stopped)
        address = self.process.AllocateMemory(len(data), lldb.ePermissionsReadable | lldb.ePermissionsWritable,
                                              error)
        if not error.Success() or address in (0, lldb.LLDB_INVALID_ADDRESS):
            raise Failure("lldb", f"could not allocate {len(data)} bytes in process {self.pid}")
        try:
            error = lldb.SBError()
            self.process.WriteMemory(address, data, error)
            if not error.Success():
                raise Failure("lldb", f"could not write into process {self.pid}: {error.GetCString()}")
            status = self.evaluate(thread, f"(int)((int (*)(const char *)){addresses['PyRun_SimpleString']:#x})"
                                           f"((const char *){address:#x})", run_timeout)
        finally:
            self.process.DeallocateMemory(address)
            if gil_state is not None:
                self.evaluate(thread, f"(void)((void (*)(int)){addresses['PyGILState_Release']:#x})({gil_state})")
        self.mark("ran")
        now = time.monotonic()
        return {"ok": True, "phases": self.phases, "status": status, "safe_point": safe_point,
                "stopped_s": self.held + (now - self.stopped_since), "run_s": now - run_started}

    def _breakpoint_hit(self, pending_bp, save_bp):
        ids = {}
        if pending_bp is not None:
            ids[pending_bp.GetID()] = "pending"
        ids[save_bp.GetID()] = "save"
        found = None
        for i in range(self.process.GetNumThreads()):
            thread = self.process.GetThreadAtIndex(i)
            if thread.GetStopReason() != lldb.eStopReasonBreakpoint or thread.GetStopReasonDataCount() < 1:
                continue
            which = ids.get(thread.GetStopReasonDataAtIndex(0))
            if which == "pending":
                return which, thread
            if which == "save" and found is None:
                found = (which, thread)
        return found

    def leave(self) -> None:
        """Whatever happened: no breakpoint left behind, target detached and running."""
        if not self.attached:
            return
        try:
            if self.running or self.process.GetState() == lldb.eStateRunning:
                self.process.SendAsyncInterrupt()
                self.wait_stopped(10)
        except Exception:
            pass
        try:
            self.target.DeleteAllBreakpoints()
        except Exception:
            pass
        try:
            self.process.Detach()
        except Exception:
            pass


def main(debugger) -> None:
    if not hasattr(debugger, "SetAsync"):  # some lldb builds hand a raw SWIG pointer to __lldb_init_module
        debugger = lldb.debugger
    req = json.loads(os.environ["MEMDOCTOR_LLDB_REQUEST"])
    session = Session(debugger, req)
    try:
        result = session.run()
    except Failure as exc:
        result = {"ok": False, "kind": exc.kind, "error": exc.message}
    except Exception as exc:  # an lldb API surprise: report it, never leave the target traced
        result = {"ok": False, "kind": "lldb", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        session.leave()
    fd = os.open(req["result"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(result, fh)


def __lldb_init_module(debugger, internal_dict) -> None:  # the name lldb calls
    main(debugger)
