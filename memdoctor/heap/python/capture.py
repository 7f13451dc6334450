"""`memdoctor snapshot PID` for Python: get the agent to run inside the target, collect its file.

Ways in, tried in this order:
1. launch mode: the target was started by `memdoctor run --heap-every` (or with the agent on
   its PYTHONPATH) and answers on a control socket: no debugger, no ptrace;
2. `sys.remote_exec` (PEP 768) when the target is CPython >= 3.14;
3. gdb (see gdb.py for the safe point and the deadline);
4. lldb, where gdb is missing or cannot call functions in a process here (gdb.calls_work; lldb.py: the same
   safe points and deadline);
   MEMDOCTOR_DEBUGGER=gdb or =lldb picks one.
The agent walks the heap in a forked copy when memory leaves room for one (the target pauses for
the fork), else from a thread of the target in slices once the debugger detached (see agent.py);
MEMDOCTOR_HEAP_FORK=0 forces the second (the benchmark uses it).
Whatever the way, the agent reads a request and writes the snapshot in a private directory
inside the target's filesystem (/proc/PID/root/tmp/.memdoctor-...), and memdoctor moves the
snapshot to the output path (mode 0600) and writes FILE.meta.json beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memdoctor.heap.model import write_meta
from memdoctor.heap.python.target import Staging, TargetProcess, inspect_target
from memdoctor.heap.runtimes import CaptureOptions, HeapError
from memdoctor.sampling.procfs import rss_once

AGENT_SOURCE = Path(__file__).with_name("agent.py")
DEBUGGER_ENV = "MEMDOCTOR_DEBUGGER"  # "gdb" or "lldb": inject with that debugger only
FORK_ENV = "MEMDOCTOR_HEAP_FORK"  # "0": never walk in a forked copy (as when memory leaves no room for one)
AGENT_RUN_TIMEOUT_S = 300.0  # the agent is bounded; this only guards against the unforeseen
# Temporary memory the agent needs in the target, as a share of its RSS (measured: lists of the
# live objects and a set of ids while counting; see docs/benchmarks.md).
AGENT_MEMORY_SHARE = 0.35

# After the agent's namespace is cleared, a young-generation collection frees what running it made: its
# classes and functions are reference cycles (a class's __mro__ holds it) that otherwise stay in the
# target until its next full collection, and an idle program's next snapshot counted them as growth
# (+4 types, +11 functions, +13 code objects per capture). A generation-1 collection is what the
# interpreter runs on its own at any allocation: it looks at young objects only, so it costs the
# target little whatever the size of its heap (a full gc.collect() would not).
BOOTSTRAP = (
    "try:\n"
    " g = {{'__name__': '__memdoctor_agent__', 'REQUEST': {request!r}}}\n"
    " exec(compile(open({agent!r}, 'rb').read(), '<memdoctor-agent>', 'exec'), g)\n"
    "except BaseException:\n"
    " pass\n"
    "finally:\n"
    " if not g.get('KEEP'):\n"
    "  g.clear()\n"
    "  __import__('gc').collect(1)\n"
)


def bootstrap_line(request: str, agent: str) -> str:
    """One Python statement that runs the agent in a fresh namespace and leaves no name behind."""
    return f"exec({BOOTSTRAP.format(request=request, agent=agent)!r}, {{}})"


def capture(pid: int, output: str, *, options: CaptureOptions) -> dict[str, Any]:
    from memdoctor.sampling.limits import discover_limit_for_pid

    output = os.path.abspath(output)
    _check_output(output)
    target = inspect_target(pid)
    limit = discover_limit_for_pid(pid)
    limit_bytes = limit.bytes if limit and limit.bytes else None
    rss = rss_once(pid)
    _check_headroom(pid, rss, limit_bytes, limit.source if limit else "", options)
    staging = Staging(target)
    try:
        staging.write("agent.py", AGENT_SOURCE.read_bytes())
        deadline = time.time() + options.timeout_s + (options.allocations_s or 0) + AGENT_RUN_TIMEOUT_S
        request = {
            "snapshot": staging.inner_path("snapshot.json"),
            "result": staging.inner_path("result.json"),
            "scratch": staging.inner,
            "deadline": deadline,
            "allocations_s": options.allocations_s,
            "trim": True,
            "show_values": options.show_values,
            "limit_bytes": limit_bytes,
            # Walk in a forked copy (the target pauses only for the fork) when memory allows the copy.
            "fork": _fork_fits(rss, limit_bytes, limit.source if limit else "")
            and os.environ.get(FORK_ENV, "1").strip() != "0",
        }
        info = _inject(target, staging, request, options)
        result = _await_result(target, staging, options)
        if not result.get("ok"):
            raise HeapError(f"the agent failed inside process {pid}: {result.get('error', 'unknown error')}")
        _move_out(staging, "snapshot.json", output)
    finally:
        staging.cleanup()
    meta = dict(result.get("meta") or {})
    meta.update(info)
    meta["ns_pid"] = meta.get("pid")
    meta["pid"] = pid
    meta["runtime"] = "python"
    meta["limit_bytes"] = limit_bytes
    meta["limit_source"] = limit.source if limit else None
    meta.setdefault("captured_at", datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    meta["snapshot"] = os.path.basename(output)
    meta["notes"] = _notes(output)
    write_meta(output, meta)
    return meta


def _notes(path: str) -> list[str]:
    """Native memory vs Python heap, for the snapshot command to print (no values, numbers only)."""
    from memdoctor.heap.python.native import describe_one
    from memdoctor.heap.python.reader import read_snapshot

    try:
        return describe_one(read_snapshot(path))
    except HeapError:
        return []


def _check_output(output: str) -> None:
    parent = os.path.dirname(output) or "."
    if not os.path.isdir(parent):
        raise HeapError(f"cannot write {output}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise HeapError(f"cannot write {output}: directory {parent} is not writable")
    if os.path.isdir(output):
        raise HeapError(f"{output} is a directory: give a file name with -o")


def _check_headroom(pid: int, rss: int | None, limit: int | None, source: str, options: CaptureOptions) -> None:
    if options.force or rss is None or limit is None or not source.startswith("cgroup"):
        return
    need = int(rss * AGENT_MEMORY_SHARE)
    if rss + need > limit:
        from memdoctor.units import format_bytes

        raise HeapError(f"process {pid} uses {format_bytes(rss)} of its {format_bytes(limit)} limit and the snapshot "
                        f"needs about {format_bytes(need)} more inside it: it could be OOM-killed; use --force to "
                        "take the snapshot anyway")


def _fork_fits(rss: int | None, limit: int | None, source: str) -> bool:
    """A forked copy touches (and so copies) up to the whole heap: it needs about RSS again."""
    if rss is None:
        return False
    if limit is not None and source.startswith("cgroup") and 2 * rss + (64 << 20) > limit:
        return False
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 > rss + (256 << 20)
    except (OSError, ValueError, IndexError):
        return False
    return False


# --------------------------------------------------------------------------- the ways in


def _inject(target: TargetProcess, staging: Staging, request: dict, options: CaptureOptions) -> dict[str, Any]:
    if target.control_dir:
        info = _via_control_socket(target, staging, request, options)
        if info is not None:
            return info
    if target.version is not None and target.version >= (3, 14):
        info = _via_remote_exec(target, staging, request, options)
        if info is not None:
            return info
    from memdoctor.heap.python import gdb, lldb

    installed = _debuggers(gdb, lldb)
    for k, (name, driver) in enumerate(installed):
        request["method"] = name
        # lldb interrupts a called function at a fork: the agent walks from a thread once lldb detached.
        # Without a fork, the agent walks from a thread of its own once the debugger detached, giving the
        # GIL to the program between slices: the target is held only for the injection.
        request["after_detach"] = name == "lldb" or not request["fork"]
        # One request file per way in: a way that did not run the agent (CallsUnsupported, or remote_exec before it)
        # left its own behind, and the staging directory creates each file once (O_EXCL), so a shared name made the
        # next debugger fail with "cannot write request.json ...: File exists".
        line = bootstrap_line(staging.write(f"request-{name}.json", json.dumps(request).encode()),
                              staging.inner_path("agent.py"))
        try:
            done = driver.run_python(target, line, timeout_s=options.timeout_s, run_timeout_s=AGENT_RUN_TIMEOUT_S)
        except gdb.CallsUnsupported:
            # gdb could not call into the target although its probe on a process of our own passed (gdb.calls_work):
            # the agent did not run, so the next debugger tries (gdb 13 on a CPU with AMX under Linux 6.18, where
            # lldb works).
            if k + 1 < len(installed):
                continue
            raise
        return {"method": name, "safe_point": done.safe_point, "stopped_s": round(done.stopped_s, 4)}
    chosen = os.environ.get(DEBUGGER_ENV, "").strip().lower()
    if chosen in ("gdb", "") and shutil.which("gdb") and not (chosen == "" and lldb.available()):
        # gdb is there but cannot call functions in a process on this machine (gdb.calls_work), and no lldb to use.
        raise HeapError("gdb cannot call functions in a process on this machine (it cannot set the registers of "
                        "this CPU: gdb 13 with AMX under Linux 6.x), so it is not used: install lldb (apt-get "
                        f"install lldb){', unset ' + DEBUGGER_ENV if chosen else ''}, or start the target with "
                        "`memdoctor run --heap-every 60s -- python ...`")
    if chosen in ("gdb", "lldb"):
        raise HeapError(f"{DEBUGGER_ENV}={chosen} but {chosen} is not installed, and the target was not started in "
                        f"launch mode: install {chosen} (apt-get install {chosen}), or start it with "
                        "`memdoctor run --heap-every 60s -- python ...`")
    raise HeapError("neither gdb nor lldb is installed, and the target was not started in launch mode: install gdb "
                    "or lldb (apt-get install gdb), or start it with `memdoctor run --heap-every 60s -- python ...`")


def _debuggers(*drivers) -> list[tuple[str, Any]]:
    """The installed debuggers to inject with: gdb first, lldb where gdb is missing or cannot call functions here.

    MEMDOCTOR_DEBUGGER=gdb or =lldb uses that one only; an unknown value is ignored.
    """
    by_name = {driver.__name__.rsplit(".", 1)[-1]: driver for driver in drivers}
    chosen = os.environ.get(DEBUGGER_ENV, "").strip().lower()
    names = [chosen] if chosen in by_name else list(by_name)
    return [(name, by_name[name]) for name in names if by_name[name].available()]


def _via_control_socket(target: TargetProcess, staging: Staging, request: dict,
                        options: CaptureOptions) -> dict[str, Any] | None:
    """Launch mode: ask the resident agent over its socket. None when it does not answer.

    The socket lives in a directory of the target's user: it is reached as that user (Staging.as_target),
    so a symlink planted there can make memdoctor talk to nothing the target's user could not reach."""
    path = target.host_path(f"{target.control_dir}/{target.ns_pid}.sock")
    request = {**request, "cmd": "snapshot", "method": "launch-agent"}

    def ask() -> bytes:
        if not os.path.exists(path):
            return b""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(min(5.0, options.timeout_s))
            try:
                sock.connect(path)
            except OSError:
                return b""
            sock.sendall(json.dumps(request).encode() + b"\n")
            sock.settimeout(options.timeout_s + (options.allocations_s or 0) + AGENT_RUN_TIMEOUT_S)
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
            return reply or b"\n"
        except TimeoutError:
            raise OSError(0, f"the agent in process {target.pid} did not answer within {options.timeout_s:g}s") \
                from None
        finally:
            sock.close()

    reply = staging.as_target(ask)
    if not reply:
        return None
    try:
        answer = json.loads(reply.decode("utf-8"))
    except ValueError:
        return None
    if not answer.get("forked"):  # a forked copy writes result.json itself
        staging.write("result.json", json.dumps(answer).encode())
    return {"method": "launch-agent", "safe_point": "agent thread"}


def _via_remote_exec(target: TargetProcess, staging: Staging, request: dict,
                     options: CaptureOptions) -> dict[str, Any] | None:
    """CPython >= 3.14: sys.remote_exec runs a script at the target's next safe point."""
    major, minor = target.version or (0, 0)
    python = shutil.which(f"python{major}.{minor}") or (target.exe if os.path.exists(target.exe) else None)
    if python is None:
        return None
    request = {**request, "method": "remote_exec"}
    inner_request = staging.write("request-remote_exec.json", json.dumps(request).encode())
    script = staging.write("bootstrap.py", bootstrap_line(inner_request, staging.inner_path("agent.py")).encode())
    try:
        proc = subprocess.run([python, "-c", "import sys; sys.remote_exec(int(sys.argv[1]), sys.argv[2])",
                               str(target.pid), script], capture_output=True, text=True, timeout=options.timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        if "ermission" in err or "not permitted" in err:
            raise HeapError(f"cannot attach to process {target.pid}: {err} (needs the target's user or "
                            "CAP_SYS_PTRACE)")
        return None
    return {"method": "remote_exec", "safe_point": "interpreter eval breaker"}


def _await_result(target: TargetProcess, staging: Staging, options: CaptureOptions) -> dict[str, Any]:
    wait = AGENT_RUN_TIMEOUT_S + (options.allocations_s or 0) + options.timeout_s
    deadline = time.monotonic() + wait
    while not staging.exists("result.json"):
        if time.monotonic() > deadline:
            raise HeapError(f"the agent in process {target.pid} wrote no snapshot within {wait:g}s")
        if not os.path.exists(f"/proc/{target.pid}"):
            raise HeapError(f"process {target.pid} exited before the snapshot was written")
        time.sleep(0.05)
    try:
        data = json.loads(staging.read("result.json").decode("utf-8"))
    except (HeapError, ValueError) as exc:
        raise HeapError(f"the agent in process {target.pid} wrote an unreadable result: {exc}") from None
    return data if isinstance(data, dict) else {"ok": False, "error": "unreadable result"}


def _move_out(staging: Staging, name: str, output: str) -> None:
    """Copy the snapshot from the target's filesystem into `output`, created with mode 0600.

    Root opens only `output` (in the directory the user chose, never through a link another user could
    plant: memdoctor/output_files.py); the target's user copies into that descriptor."""
    from memdoctor.output_files import output_file

    with output_file(output) as out:
        fd = out.open()
        try:
            staging.copy_out(name, fd)
        except HeapError as exc:
            out.discard(fd)
            raise HeapError(f"the agent wrote no snapshot file ({exc})") from None
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
