"""`memdoctor snapshot PID` for Node.js: a heap snapshot of a running process, no restart.

Steps, and what each one guards against:
1. Checks: the process exists and we may signal it (else one line, nothing sent).
2. A lock per network namespace of targets, in memdoctor's private 0700 state directory (statedir.py;
   never a predictable /tmp path, which a planted symlink would turn into a way to truncate any
   file): SIGUSR1 always opens the same port, so two captures at once would fight over it.
3. The inspector: if the target already listens with an inspector (started with `--inspect`,
   any port), it is reused and left open afterwards. Otherwise:
   - memdoctor must be able to connect to 127.0.0.1 in the target's network namespace (a namespace
     with its loopback down would get an inspector nobody can reach, nor close): checked first;
   - SIGUSR1 opens the port of the target's `--inspect-port` (command line or NODE_OPTIONS; Node's
     default 9229). That port is fixed when the target starts: a running process's port cannot be
     changed from outside (`process.debugPort` and `inspector.open(port)` need code running in it,
     which needs the inspector first). It must be free (else we say which process holds it and send
     nothing); with `--inspect-port=0` Node picks a free port, and memdoctor takes the port that the
     target's new listening socket has (read from /proc/PID/net/tcp and /proc/PID/fd);
   - a guardian process is forked before the signal: if memdoctor dies before the watchdog is
     armed (kill -9 in that ~50 ms window), it closes the inspector (see _Guardian).
4. A watchdog inside the target: a timer (unref'd, so it never keeps the process alive) that
   calls `require('inspector').close()` after a deadline, or as soon as memdoctor's process is gone
   (when the target shares memdoctor's PID namespace and can see it). Only memdoctor renews it, so
   if memdoctor dies, even by `kill -9`, the inspector still closes by itself. SIGTERM and SIGHUP
   unwind the capture (SystemExit) so that every path out closes the inspector.
5. A memory check: a snapshot makes V8 build a copy of the heap graph and serialize it, which
   costs the target about CAPTURE_FACTOR x its used heap for the duration. If its cgroup (or the
   machine) lacks that headroom, we refuse unless --force: an OOM kill of the service is worse
   than no snapshot. The headroom is the smallest over the target's cgroup and its ancestors:
   a parent's limit (a pod, a slice) is shared with siblings, whose usage counts against it.
6. `--allocations D`: V8's sampling heap profiler runs for D; what it reports at the end is
   the sampled allocations still alive, by function and file:line.
7. `HeapProfiler.takeHeapSnapshot` with progress events. V8 numbers objects for the heap
   profiler and forgets the numbering when an inspector session ends (measured on Node 20:
   the same object gets another id in a snapshot taken by the next session, even without
   `HeapProfiler.enable`). `diff`'s "allocated between 1 and 2, alive in 3" view needs one
   numbering, so `--count N --every D` takes a series in ONE session, renewing the watchdog
   while it waits. Chunks are written straight to FILE.partial (mode 0600, memdoctor/output_files.py), renamed when
   complete, so the snapshot is never held in memory and a failed capture leaves no half file.
8. The inspector is closed again (when we opened it), and we wait until the port is gone.
9. FILE.meta.json: pid, runtime, captured_at, rss, limit_bytes, and what `diff` needs to refuse
   snapshots of different processes (process start time, boot id).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from memdoctor.heap.model import write_meta
from memdoctor.heap.patient import refuse_stopped_or_traced
from memdoctor.heap.runtimes import CaptureOptions, HeapError
from memdoctor.heap.statedir import exclusive_lock
from memdoctor.heap.v8 import inspector as insp
from memdoctor.sampling import procfs
from memdoctor.sampling.procfs import rss_once

DEFAULT_PORT = 9229
# Extra memory of a snapshot in the target, in multiples of its used heap: the peak RSS during the
# capture minus the RSS before, over the used heap, for heaps of small objects (what leaks are made
# of; the cost follows the number of objects, so a heap of a few big arrays costs far less).
# Measured with benchmarks/v8_snapshot_cost.py (Node 20, docs/security.md): 11.2x at 27 MiB used,
# 13.4-13.8x at 45-101 MiB, 13.5-15.0x at 138-324 MiB; the largest, rounded up. The old 5x let a
# capture under a cgroup limit OOM-kill its target.
CAPTURE_FACTOR = 15.0
CAPTURE_FIXED = 32 << 20
WATCHDOG_MARGIN_S = 5.0  # the watchdog closes the inspector this long after memdoctor's own timeout
WATCHDOG_POLL_MS = 250  # how often the watchdog looks at the deadline and at memdoctor's process
GUARDIAN_WAIT_S = 15.0  # after memdoctor died, how long its guardian waits for a late inspector to open
# V8's sampling heap profiler takes one sample per SAMPLING_INTERVAL bytes allocated on average (V8's default
# is 32 KiB; Chrome DevTools' "allocation sampling" and production profilers run it always on). Its profile
# keeps only sampled objects still alive at its end: `--allocations` samples before one snapshot, and a
# series samples from its first snapshot to right after its last one's full collection, so the sites are
# those of what is still alive, what grew.
SAMPLING_INTERVAL = 16384
WATCHDOG_KEY = "Symbol.for('memdoctor.inspector.watchdog')"
REQUIRE = ("(typeof require === 'function' ? require : (process.getBuiltinModule ? process.getBuiltinModule : "
           "process.mainModule.require.bind(process.mainModule)))")


# Runtime.evaluate runs in the target as a V8 interrupt: in the middle of whatever JavaScript the main
# thread is running, Node's own timer code included (tests/test_v8_capture_more.py shows an evaluation
# returning from inside a 3 s busy loop). Creating or clearing a timer there can corrupt Node's timer lists
# (a doctor run left a worker-pool service dead of "TypeError: timer._onTimeout is not a function" in
# listOnTimeout). So every expression that touches timers only queues a microtask: it runs at the next
# microtask checkpoint, where a promise callback of the program could run (between timers, after a
# callback), and on an idle target right after the evaluation. The inspector module is looked up in the
# evaluation itself, where the console's `require` exists (it is gone by the time the microtask runs).
def _deferred(body: str) -> str:
    """Statements run from a microtask in the target, with the inspector module as `i` (see above); the
    expression itself returns true."""
    return (f"(() => {{ const i = {REQUIRE}('inspector');"
            f" queueMicrotask(() => {{ {body} }}); return true; }})()")


def _arm_js(deadline_ms: int, watch_pid: int | None = None) -> str:
    """The watchdog: a timer in the target (unref'd: it never keeps the process alive) that closes the
    inspector at the deadline, or as soon as memdoctor's process is gone when the target can see it
    (same PID namespace): process.kill(pid, 0) fails with ESRCH only when no such process exists."""
    gone = (f"(() => {{ try {{ process.kill({watch_pid}, 0); return false; }}"
            " catch (e) { return e.code === 'ESRCH'; } })()") if watch_pid else "false"
    return _deferred(
        f"const k = {WATCHDOG_KEY}; if (process[k]) clearInterval(process[k]);"
        f" const end = Date.now() + {deadline_ms};"
        f" const t = setInterval(() => {{ if (Date.now() < end && !{gone}) return;"
        " clearInterval(t); delete process[k]; try { i.close(); } catch (e) {} }, "
        f"{WATCHDOG_POLL_MS});"
        " if (t.unref) t.unref(); process[k] = t;")


CLOSE_JS = _deferred(
    f"const k = {WATCHDOG_KEY}; if (process[k]) {{ clearInterval(process[k]); delete process[k]; }}"
    " const t = setTimeout(() => { try { i.close(); } catch (e) {} }, 20);"
    " if (t.unref) t.unref();")
HAS_WATCHDOG_JS = f"!!process[{WATCHDOG_KEY}]"
INFO_JS = ("(() => { const m = process.memoryUsage(); return { version: process.version, heapUsed: m.heapUsed, "
           "heapTotal: m.heapTotal, external: m.external, rss: m.rss }; })()")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # Inside exit() counts as gone: a dropped inspector connection can come before /proc says zombie.
        return not procfs.exiting(pid)
    except (procfs.ProcessGone, procfs.ProcessAccessDenied, OSError, IndexError, ValueError):
        return False


def _exited_soon(pid: int, within_s: float = 1.0) -> bool:
    """Whether `pid` is gone or goes within `within_s`: a lost connection often comes first."""
    deadline = time.monotonic() + within_s
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


class _Budget:
    """What is left of --timeout for one snapshot. V8 answers protocol calls on the target's main
    thread, so a target busy in a long synchronous call answers nothing until the call returns:
    every call gets at most what is left, and then the capture gives up (the target untouched)."""

    def __init__(self, pid: int, timeout: float, extra_s: float = 0.0) -> None:
        self.pid = pid
        self.timeout = timeout  # no one call waits longer than --timeout
        self.seconds = timeout + extra_s  # the whole snapshot: --timeout, plus --allocations' sampling time
        self.end = time.monotonic() + self.seconds

    def left(self, cap: float) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise self.expired()
        return min(cap, self.timeout, remaining)

    def expired(self) -> insp.InspectorTimeout:
        return insp.InspectorTimeout(
            f"process {self.pid} did not answer its inspector within --timeout {self.timeout:g} s (its main thread is "
            "busy or blocked: V8 answers there); nothing was captured, the target runs on")


def _check_target(pid: int) -> None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise HeapError(f"no process with PID {pid}") from None
    except PermissionError:
        try:
            owner = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            owner = "another user"
        raise HeapError(f"no permission to signal process {pid} (owned by uid {owner}): run memdoctor as that "
                        "user or as root") from None
    refuse_stopped_or_traced(pid)


def _inspector_lock(pid: int, timeout: float) -> contextlib.AbstractContextManager[None]:
    """One capture at a time per network namespace of targets (the inspector port is per namespace),
    locked in memdoctor's private state directory (statedir.py: never a shared /tmp path)."""
    try:
        netns = os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        netns = 0
    return exclusive_lock(f"node-inspector-net{netns}.lock", timeout, "another Node.js capture")


def _own_inspector_port(pid: int, timeout: float) -> int | None:
    """The port of an inspector the target already has open (started with --inspect), if any."""
    mine = insp.socket_inodes(pid)
    for item in insp.listeners(pid):
        if item.inode not in mine:
            continue
        try:
            info = insp.http_json(pid, item.port, "/json/version", min(timeout, 3.0))
        except HeapError:
            continue
        if isinstance(info, dict) and "node" in str(info.get("Browser", "")).lower():
            return item.port
    return None


def _our_pid_seen_by(pid: int) -> int | None:
    """memdoctor's PID as the target sees it: ours when we share its PID namespace, else None (a target in
    a container cannot see a memdoctor on the host; its watchdog then goes by the deadline alone)."""
    try:
        same = os.readlink("/proc/self/ns/pid") == os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None
    return os.getpid() if same else None


def _expected_port(pid: int) -> int | None:
    """The port SIGUSR1 will open: --inspect-port (or --debug-port) from the target's command line or its
    NODE_OPTIONS, else Node's default 9229; None for port 0 (Node picks a free one at run time)."""
    # Node reads NODE_OPTIONS before its command line, so an option on the command line overrides
    # the same option in NODE_OPTIONS (Node's CLI docs, NODE_OPTIONS): read them in that order and
    # let the last one win.
    words: list[str] = []
    with contextlib.suppress(OSError), open(f"/proc/{pid}/environ", "rb") as fh:
        for item in fh.read().decode(errors="replace").split("\0"):
            if item.startswith("NODE_OPTIONS="):
                words += item[len("NODE_OPTIONS="):].split()
    with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
        words += fh.read().decode(errors="replace").split("\0")
    port = DEFAULT_PORT
    for i, word in enumerate(words):
        name, eq, value = word.partition("=")
        if name in ("--inspect-port", "--debug-port"):
            value = value if eq else (words[i + 1] if i + 1 < len(words) else "")
            value = value.rsplit(":", 1)[-1]
            if value.isdigit():
                port = int(value)
    return port or None


def _check_loopback(pid: int) -> None:
    """The inspector listens on 127.0.0.1 of the target's network namespace: if memdoctor cannot connect
    there (loopback down, as in a fresh `unshare -n`), the inspector would open and could never be closed
    again through the protocol. Try a connection there first; refuse before sending anything."""
    def probe() -> None:
        server = socket.socket()
        try:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            with socket.create_connection(server.getsockname(), timeout=2.0):
                pass
        finally:
            server.close()

    try:
        insp._in_netns(pid, probe)
    except OSError as exc:
        raise HeapError(f"memdoctor cannot connect to 127.0.0.1 in the network namespace of process {pid} "
                        f"({exc.strerror or exc}: is its loopback down?): the inspector could not be reached or "
                        "closed again; nothing was sent to the target") from None


def _open_inspector(pid: int, timeout: float, guardian: _Guardian) -> int:
    """Send SIGUSR1 and return the port the target's inspector opened."""
    expected = _expected_port(pid)
    if expected is not None:
        held = insp.port_listening(pid, expected)
        if held is not None:
            who = insp.holder_of(held.inode)
            by = f"PID {who[0]} ({who[1]})" if who else "a process in another namespace or of another user"
            raise HeapError(f"port {expected} in the target's network namespace is in use by {by}: the inspector "
                            "cannot open; stop that debugger or process and retry (nothing was sent to the target)")
    before = {item.inode for item in insp.listeners(pid)}
    guardian.signal_sent(before)
    os.kill(pid, signal.SIGUSR1)
    wait_s = min(timeout, 15.0)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise HeapError(f"process {pid} exited after SIGUSR1: is it Node.js with the inspector built in?")
        fresh = [item for item in insp.listeners(pid) if item.inode not in before]
        mine = insp.socket_inodes(pid) if fresh else set()  # read after the listeners: a new socket is in both
        for item in fresh:
            if item.inode in mine and (expected is None or item.port == expected):
                return item.port
            if item.port == expected and item.inode not in mine:  # someone else took the port in the meantime
                who = insp.holder_of(item.inode)
                by = f"PID {who[0]}" if who else "another process"
                raise HeapError(f"port {expected} was taken by {by} before the target's inspector could open it")
        time.sleep(0.02)
    raise HeapError(f"process {pid} did not open its inspector within {wait_s:.0f} s after SIGUSR1 (its main "
                    "thread busy or blocked, started with --disable-sigusr1, or not Node.js?)")


class _Guardian:
    """A small process forked before SIGUSR1 that closes the inspector if memdoctor dies, even by kill -9.

    The watchdog in the target covers memdoctor's death once it is armed; between SIGUSR1 and arming
    (connecting, listing, opening the session: ~50 ms) nothing would. The guardian is in its own
    session (a Ctrl-C or a kill of memdoctor's process group does not reach it), holds the inspector
    lock with memdoctor until the inspector's port is known, and waits on a pipe: "done" from
    memdoctor ends it; end of file without "done" means memdoctor died, or gave up on a target that
    stopped answering (handed over), and then it closes any inspector the target opened after the
    signal: it retries while the target lives, since a target blocked in a synchronous call answers
    the close only when the call returns.
    """

    def __init__(self, pid: int, lock_fd: int) -> None:
        self.pid = pid
        self.lock_fd = lock_fd
        read_end, self.write_end = os.pipe()
        self.child = os.fork()
        if self.child == 0:  # pragma: no cover - the guardian: never returns
            code = 0
            try:
                os.close(self.write_end)
                os.setsid()
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                keep = sorted({read_end, lock_fd})
                os.closerange(3, keep[0])
                for low, high in zip(keep, [*keep[1:], 1 << 16], strict=True):
                    os.closerange(low + 1, high)
                self._watch(read_end)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(read_end)

    def _watch(self, read_end: int) -> None:
        data = b""
        while chunk := os.read(read_end, 4096):
            data += chunk
            if b"done" in data:
                return
        if not data.startswith(b"sent "):
            return  # memdoctor died before SIGUSR1: nothing was opened
        before = {int(x) for x in data[5:].split(b"\n")[0].split()}
        deadline = time.monotonic() + GUARDIAN_WAIT_S
        seen = False
        while (seen or time.monotonic() < deadline) and _alive(self.pid):
            fresh = [item for item in insp.listeners(self.pid) if item.inode not in before]
            mine = insp.socket_inodes(self.pid)
            opened = [item for item in fresh if item.inode in mine]
            if opened:
                if not seen:
                    # The port is known: the lock (which guards the window between SIGUSR1 and knowing
                    # it) is not needed while the target keeps us waiting, and holding it would stop
                    # every other capture in this network namespace for as long as the target is stuck.
                    with contextlib.suppress(OSError):
                        os.close(self.lock_fd)
                seen = True
                _close_inspector(self.pid, opened[0].port, 10.0)
            elif seen:
                return  # closed
            time.sleep(0.05)

    def signal_sent(self, listeners_before: set[int]) -> None:
        os.write(self.write_end, b"sent " + " ".join(map(str, sorted(listeners_before))).encode() + b"\n")

    def abandon(self) -> None:
        """Leave the guardian to close whatever inspector opened after the signal, as if memdoctor died
        (also when the target stopped answering: the guardian retries until the inspector is closed)."""
        with contextlib.suppress(OSError):
            os.close(self.write_end)

    def done(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.write_end, b"done")
        with contextlib.suppress(OSError):
            os.close(self.write_end)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.child, 0)


@contextlib.contextmanager
def _termination_unwinds() -> Iterator[None]:
    """SIGTERM and SIGHUP raise SystemExit during a capture, so that every `finally` closes what it opened
    (their default action would end memdoctor with the inspector open)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    saved = {sig: signal.signal(sig, unwind) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _wait_closed(pid: int, port: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid) or insp.port_listening(pid, port) is None:
            return True
        time.sleep(0.05)
    return False


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (v2, no limit) is not a number


def _cgroup_free(cgroup_dir: str, version: int | None) -> list[tuple[int, int, str]]:
    """(limit, limit - usage, limit file) for the target's memory cgroup and each ancestor that has
    a limit: a limit set on a parent (a Kubernetes pod, a systemd slice) is shared with siblings,
    so its headroom is the parent's limit minus the parent's usage, not minus the target's own."""
    from memdoctor.sampling.limits import UNLIMITED_THRESHOLD

    names = ("memory.max", "memory.current") if version == 2 else ("memory.limit_in_bytes", "memory.usage_in_bytes")
    out = []
    directory = os.path.normpath(cgroup_dir)
    while True:
        usage = _read_int(os.path.join(directory, names[1]))
        if usage is None:
            break
        limit = _read_int(os.path.join(directory, names[0]))
        if limit is not None and 0 < limit < UNLIMITED_THRESHOLD:
            out.append((limit, limit - usage, os.path.join(directory, names[0])))
        parent = os.path.dirname(directory)
        if parent == directory or not os.path.exists(os.path.join(parent, "cgroup.procs")):
            break
        directory = parent
    return out


def _cgroup_headroom(pid: int) -> tuple[int | None, int | None, str]:
    """(the target's memory limit, free bytes, description of what binds): the free memory is the
    smallest headroom over its cgroup and their ancestors' limits, else the machine's available memory."""
    from memdoctor.sampling.limits import discover_limit_for_pid

    limit = discover_limit_for_pid(pid)
    if limit.cgroup_dir and not limit.source.startswith("physical"):
        candidates = _cgroup_free(limit.cgroup_dir, limit.version)
        own_usage = _read_int(os.path.join(limit.cgroup_dir, "memory.current" if limit.version == 2
                                           else "memory.usage_in_bytes"))
        if own_usage is not None:  # e.g. v1 hierarchical_memory_limit: an ancestor we cannot see
            candidates.append((limit.bytes, limit.bytes - own_usage, limit.source))
        if candidates:
            cap, free, source = min(candidates, key=lambda c: c[1])
            return limit.bytes, free, f"its memory limit of {cap >> 20} MiB ({source})"
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            available = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        available = None
    return limit.bytes, available, "the machine's available memory"


def _check_memory(pid: int, heap_used: int, force: bool) -> dict[str, Any]:
    need = int(heap_used * CAPTURE_FACTOR) + CAPTURE_FIXED
    limit, free, what = _cgroup_headroom(pid)
    info = {"limit_bytes": limit, "estimated_capture_bytes": need, "free_bytes": free}
    if free is not None and need > free and not force:
        raise HeapError(f"a snapshot of process {pid} needs about {need >> 20} MiB more memory in the target "
                        f"({CAPTURE_FACTOR:g} x its used heap of {heap_used >> 20} MiB + {CAPTURE_FIXED >> 20} MiB), "
                        f"but {what} leaves {max(free, 0) >> 20} MiB free: the target would likely be OOM-killed; "
                        "--force captures anyway")
    return info


def _allocation_sites(profile: dict, top: int = 15) -> list[dict[str, Any]]:
    totals: dict[tuple[str, str, int], int] = {}
    stack = [profile.get("head", {})]
    while stack:
        node = stack.pop()
        frame = node.get("callFrame", {})
        size = int(node.get("selfSize", 0))
        if size:
            url = frame.get("url", "") or ""
            name = url.rsplit("/", 1)[-1] if url.startswith(("/", "file://")) else url
            key = (frame.get("functionName") or "(anonymous)", name or "(native)", int(frame.get("lineNumber", -1)) + 1)
            totals[key] = totals.get(key, 0) + size
        stack.extend(node.get("children", []))
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [{"function": f, "file": file, "line": line, "bytes": b} for (f, file, line), b in ranked]


class _Progress:
    """A progress bar on stderr fed by the protocol's progress events (quiet when not a terminal)."""

    def __init__(self) -> None:
        from memdoctor.report.console import is_tty, stderr_console

        self.bar = None
        if is_tty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                TimeElapsedColumn(), console=stderr_console(), transient=True)
            self.task = self.bar.add_task("heap snapshot", total=1)
            self.bar.start()

    def update(self, done: int, total: int, what: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=max(total, 1), description=what)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _take_snapshot(session: insp.Session, output: str, timeout: float) -> int:
    """Stream the inspector's snapshot into a private file beside `output`, renamed over it when whole
    (never through a link another user could plant: memdoctor/output_files.py)."""
    from memdoctor.output_files import replace_output

    written = 0
    progress = _Progress()

    def write(fh: BinaryIO) -> None:
        def chunk(params: dict) -> None:
            nonlocal written
            data = params.get("chunk", "").encode("utf-8")
            fh.write(data)
            written += len(data)
            progress.update(1, 1, f"writing {written >> 20} MiB")

        def step(params: dict) -> None:
            progress.update(int(params.get("done", 0)), int(params.get("total", 1)), "building snapshot")

        session.handlers["HeapProfiler.addHeapSnapshotChunk"] = chunk
        session.handlers["HeapProfiler.reportHeapSnapshotProgress"] = step
        session.call("HeapProfiler.takeHeapSnapshot", {"reportProgress": True, "captureNumericValue": False,
                                                       "exposeInternals": False}, timeout=timeout)
        if written == 0:
            raise HeapError("the inspector sent an empty snapshot")

    try:
        replace_output(output, write)
    finally:
        progress.stop()
        session.handlers.clear()
    return written


def _identity(pid: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        out["process_start"] = procfs.start_time(pid)
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
        out["boot_id"] = fh.read().strip()
    return out


def capture(pid: int, output: str, *, options: CaptureOptions) -> dict[str, Any]:
    return capture_series(pid, [output], every_s=0.0, options=options)[0]


def capture_series(pid: int, outputs: list[str], *, every_s: float, options: CaptureOptions,
                   on_written: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Snapshots to `outputs`, `every_s` apart, in one inspector session (comparable object ids)."""
    _check_target(pid)
    for output in outputs:
        out_dir = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
            raise HeapError(f"cannot write {output}: {out_dir} is not a writable directory")
    if len(outputs) > 1 and options.allocations_s:
        raise HeapError("--allocations takes one snapshot: leave out --count")
    timeout = max(1.0, options.timeout_s)
    identity = _identity(pid)
    with _inspector_lock(pid, timeout) as lock_fd, _termination_unwinds():
        port = _own_inspector_port(pid, timeout)
        opened = port is None
        guardian = None
        answering = True
        try:
            if opened:
                _check_loopback(pid)
                guardian = _Guardian(pid, lock_fd)
                port = _open_inspector(pid, timeout, guardian)
            assert port is not None
            try:
                return _capture_with_inspector(pid, port, opened, outputs, every_s, options, timeout, identity,
                                               on_written)
            except insp.InspectorTimeout:
                answering = False
                raise
            except HeapError:
                if _exited_soon(pid):
                    raise HeapError(f"process {pid} exited during the capture; no further snapshot was written") \
                        from None
                raise
        finally:
            if opened and port is not None and answering and _alive(pid) and not _wait_closed(pid, port, 0.2):
                _close_inspector(pid, port, timeout)
            if guardian is not None:
                if port is None or (_alive(pid) and insp.port_listening(pid, port) is not None):
                    # Unwound (SIGTERM, an error) after SIGUSR1 but before the port was known, or the
                    # target stopped answering with the inspector open: the guardian, told nothing but
                    # end of file, closes it once the target answers (a "done" here left it open for ever).
                    guardian.abandon()
                else:
                    guardian.done()


def _close_inspector(pid: int, port: int, timeout: float) -> None:
    """Close the inspector we opened (a fresh short session), and wait until the port is gone."""
    try:
        targets = insp.http_json(pid, port, "/json/list", min(timeout, 5.0))
        session = insp.Session(pid, port, str(targets[0]["id"]), min(timeout, 5.0))
        try:
            session.evaluate(CLOSE_JS, timeout=5.0)
        finally:
            session.close()
    except (HeapError, LookupError, TypeError):
        pass  # the watchdog closes it at its deadline
    _wait_closed(pid, port, 5.0)


def _capture_with_inspector(pid: int, port: int, opened: bool, outputs: list[str], every_s: float,
                            options: CaptureOptions, timeout: float, identity: dict[str, Any],
                            on_written: Callable[[dict[str, Any]], None] | None) -> list[dict[str, Any]]:
    budget = _Budget(pid, timeout, options.allocations_s or 0)
    targets = insp.http_json(pid, port, "/json/list", budget.left(5.0))
    if not isinstance(targets, list) or not targets or "id" not in targets[0]:
        raise HeapError(f"the inspector of process {pid} lists no target")
    session = insp.Session(pid, port, str(targets[0]["id"]), budget.left(10.0))
    metas: list[dict[str, Any]] = []
    try:
        deadline_ms = int((timeout + (options.allocations_s or 0) + WATCHDOG_MARGIN_S) * 1000)
        try:
            if not opened and session.evaluate(HAS_WATCHDOG_JS, timeout=budget.left(10.0)):
                opened = True  # a memdoctor watchdog from an earlier, interrupted capture: ours to close
            sampling = False
            for i, output in enumerate(outputs):
                if i:
                    _wait_renewing(session, pid, every_s, opened, deadline_ms, min(timeout, 10.0))
                    budget = _Budget(pid, timeout)
                started = time.monotonic()
                if opened:
                    session.evaluate(_arm_js(deadline_ms, _our_pid_seen_by(pid)), timeout=budget.left(10.0))
                meta = _one_snapshot(session, pid, output, options, budget, opened, deadline_ms)
                how = "opened and closed by memdoctor" if opened else f"reused (already open on port {port})"
                meta.update({"capture_s": round(time.monotonic() - started, 3), "inspector": how, **identity})
                if len(outputs) > 1:
                    meta["series"] = {"index": i + 1, "of": len(outputs), "every_s": every_s,
                                      "one_session": True}  # object ids are comparable across the series
                    if i == 0:
                        sampling = _start_series_sampling(session, budget)
                    elif i == len(outputs) - 1 and sampling:
                        meta.update(_series_allocation_sites(session, budget))
                write_meta(output, meta)
                metas.append(meta)
                if on_written is not None:
                    on_written(meta)
        except insp.InspectorTimeout:
            raise budget.expired() from None
        # The heap profiler keeps an id for every object it has seen until it is disabled; disabling it
        # before the session ends gave back ~13% of what the capture left in RSS (572 -> 499 MiB, 45 MiB heap).
        with contextlib.suppress(HeapError):
            session.call("HeapProfiler.disable", timeout=min(timeout, 10.0))
        if opened:
            with contextlib.suppress(HeapError):
                session.evaluate(CLOSE_JS, timeout=5.0)
    finally:
        session.close()
    if opened and not _wait_closed(pid, port, 5.0):
        _close_inspector(pid, port, timeout)
    return metas


def _wait_renewing(session: insp.Session, pid: int, seconds: float, opened: bool, deadline_ms: int,
                   call_timeout: float) -> None:
    """Wait with the session open, renewing our watchdog so that it does not close the inspector."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(2.0, max(0.0, end - time.monotonic())))
        if not _alive(pid):
            raise HeapError(f"process {pid} exited while memdoctor waited to take its snapshot")
        if opened:
            session.evaluate(_arm_js(deadline_ms, _our_pid_seen_by(pid)), timeout=call_timeout)


def _one_snapshot(session: insp.Session, pid: int, output: str, options: CaptureOptions, budget: _Budget,
                  opened: bool, deadline_ms: int) -> dict[str, Any]:
    info = session.evaluate(INFO_JS, timeout=budget.left(10.0)) or {}
    heap_used = int(info.get("heapUsed", 0))
    memory = _check_memory(pid, heap_used, options.force)
    meta: dict[str, Any] = {}
    if options.allocations_s:
        meta["allocation_sites"] = _sample_allocations(session, pid, options.allocations_s, opened, deadline_ms,
                                                       budget)
    captured_at = datetime.now(UTC)
    rss_before = rss_once(pid)
    size = _take_snapshot(session, output, budget.left(budget.timeout))
    meta.update({
        "pid": pid,
        "runtime": "node",
        "captured_at": captured_at.isoformat().replace("+00:00", "Z"),
        "rss": rss_before,
        "limit_bytes": memory["limit_bytes"],
        "heap_used": heap_used,
        "heap_total": int(info.get("heapTotal", 0)) or None,
        "node_version": info.get("version"),
        "snapshot_bytes": size,
        "estimated_capture_bytes": memory["estimated_capture_bytes"],
    })
    return meta


def _start_series_sampling(session: insp.Session, budget: _Budget) -> bool:
    try:
        session.call("HeapProfiler.startSampling", {"samplingInterval": SAMPLING_INTERVAL},
                     timeout=budget.left(10.0))
    except insp.InspectorTimeout:
        raise
    except HeapError:
        return False  # no sampling: the snapshots go on without allocation sites
    return True


def _series_allocation_sites(session: insp.Session, budget: _Budget) -> dict[str, Any]:
    try:
        result = session.call("HeapProfiler.stopSampling", timeout=budget.left(60.0))
    except insp.InspectorTimeout:
        raise
    except HeapError:
        return {}
    return {"allocation_sites": _allocation_sites(result.get("profile", {})),
            "allocation_sites_since": "the first snapshot of the series"}


def _sample_allocations(session: insp.Session, pid: int, seconds: float, opened: bool,
                        deadline_ms: int, budget: _Budget) -> list[dict]:
    session.call("HeapProfiler.startSampling", {"samplingInterval": SAMPLING_INTERVAL}, timeout=budget.left(10.0))
    _wait_renewing(session, pid, seconds, opened, deadline_ms, budget.left(10.0))
    result = session.call("HeapProfiler.stopSampling", timeout=budget.left(60.0))
    return _allocation_sites(result.get("profile", {}))
