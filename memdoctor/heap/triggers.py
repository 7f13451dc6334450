"""Heap snapshots that `run` and `watch` take on their own, from outside the target.

- `--snapshot-at 70%,85%` (`SnapshotAt`): a daemon thread reads the RSS of the target's process
  tree every `poll_s`; when it first crosses a share of the limit, the largest Python or Node.js
  process of the tree is snapshotted into `PREFIX.at70.snap` or `PREFIX.at70.heapsnapshot`
  (+ .meta.json), so the evidence exists before the OOM kill. Each share fires once. (Before,
  the trigger knew Python only: a Node service crossed its shares and no snapshot was taken.)
- `--heap-every 60s` (`HeapEvery`): every period, the largest process of the wanted runtimes in
  the tree is snapshotted into `TRACE.heap.PID.NNN.heapsnapshot` (Node) or `...snap` (Python),
  the names `memdoctor report TRACE` finds beside the trace. `run` starts Python commands with
  the in-process agent instead (launch mode, no ptrace), so there this covers Node.js; `watch`
  cannot change a running process and covers both runtimes.

Both capture through the runtime's engine (Python: the agent if present, else gdb; Node: the
inspector, as `memdoctor snapshot`), one capture at a time, within its safety rules.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from memdoctor.heap.runtimes import CaptureOptions, HeapError
from memdoctor.units import UnitError

POLL_S = 0.5
SUFFIX = {"python": "snap", "node": "heapsnapshot"}  # the runtimes with a capture engine, and their files


def parse_shares(text: str) -> list[float]:
    """"70%,85%" or "0.7,0.85" -> [0.7, 0.85] (sorted, each in (0, 1])."""
    shares = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part[:-1]) / 100 if part.endswith("%") else float(part)
        except ValueError:
            raise UnitError(f"--snapshot-at {text!r}: {part!r} is not a share like 70% or 0.7") from None
        if not 0 < value <= 1:
            raise UnitError(f"--snapshot-at {text!r}: {part!r} must be between 0% and 100% of the limit")
        shares.append(value)
    if not shares:
        raise UnitError("--snapshot-at needs at least one share, e.g. 70%,85%")
    return sorted(set(shares))


def output_prefix(trace_path: str | None, pid: int) -> str:
    if trace_path:
        return os.path.abspath(trace_path)
    return os.path.join(os.getcwd(), f"memdoctor-{pid}")


class _Trigger:
    """A daemon thread that snapshots the target's tree now and then; the subclass's `_loop` says when."""

    timeout_s: float
    report: Callable[[str], None] | None
    taken: list[dict]
    errors: list[str]

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Callable[[], None]:
        """Start watching; returns the function that stops it (waits for a snapshot in progress)."""
        self._thread = threading.Thread(target=self._loop, name=f"memdoctor-{type(self).__name__}", daemon=True)
        self._thread.start()
        return self.stop

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 30)

    def _loop(self) -> None:
        raise NotImplementedError

    def _capture(self, pid: int, runtime: str, path: str, force: bool) -> dict | None:
        """One snapshot through the runtime's engine; None (and the error kept) when it failed."""
        from memdoctor.heap.runtimes import engine

        try:
            meta = engine(runtime, "capture").capture(pid, path, options=CaptureOptions(timeout_s=self.timeout_s,
                                                                                         force=force))
        except HeapError as exc:
            self.errors.append(str(exc))
            return None
        meta["path"] = path
        self.taken.append(meta)
        return meta

    def _say(self, line: str) -> None:
        if self.report is not None:
            self.report(line)
        else:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


@dataclass
class SnapshotAt(_Trigger):
    root_pid: int
    limit_bytes: int
    shares: list[float]
    prefix: str
    timeout_s: float = 60.0
    poll_s: float = POLL_S
    report: Callable[[str], None] | None = None
    taken: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Called just before each capture: the recording marks it (a snapshot adds the snapshotter's memory to the
    # process, which every diagnosis of the trace leaves out of the growth: analysis.engine.SNAPSHOT_EVENT).
    on_capture: Callable[[], None] | None = None

    def _loop(self) -> None:
        pending = list(self.shares)
        while pending and not self._stop.wait(self.poll_s):
            rss, largest = tree_rss(self.root_pid)
            if rss is None:
                return
            crossed = [s for s in pending if rss >= s * self.limit_bytes]
            if not crossed:
                continue
            share = crossed[-1]
            pending = [s for s in pending if s > share]
            if largest is None:  # said, never silent
                self.errors.append("no Python or Node.js process in the tree")
                self._say(f"memdoctor: memory at {share:.0%} of the limit, but no Python or Node.js process in the "
                          "target's tree to snapshot")
                continue
            self._snapshot(largest, share, rss)

    def _snapshot(self, target: tuple[int, str], share: float, rss: int) -> None:
        pid, runtime = target
        path = f"{self.prefix}.at{round(share * 100)}.{SUFFIX[runtime]}"
        if self.on_capture is not None:
            self.on_capture()
        # force: near the limit is exactly when these snapshots matter; the capture's own memory check
        # would refuse the very moment they were asked for (the user chose the shares knowing the cost).
        meta = self._capture(pid, runtime, path, force=True)
        if meta is None:
            self._say(f"memdoctor: memory at {share:.0%} of the limit, snapshot of PID {pid} failed: {self.errors[-1]}")
            return
        meta["share"] = share
        self._say(f"memdoctor: memory at {share:.0%} of the limit: snapshot of PID {pid} written to {path}")


# After this many failed periodic snapshots in a row the periodic trigger stops (and says so): a target
# the engine cannot capture (no gdb, a refused inspector, a capture that would OOM it) will not become
# capturable by asking again every period, and each attempt costs the target a pause.
MAX_FAILURES_IN_A_ROW = 3


def every_prefix(trace_path: str | None) -> str:
    """Where periodic snapshots go: beside the trace as TRACE.heap.PID.NNN.EXT (the names `report TRACE`
    looks for, as the Python agent writes them), else ./memdoctor-heap.PID.NNN.EXT."""
    if trace_path:
        return os.path.abspath(trace_path) + ".heap"
    return os.path.join(os.getcwd(), "memdoctor-heap")


@dataclass
class HeapEvery(_Trigger):
    root_pid: int
    every_s: float
    prefix: str
    runtimes: frozenset[str] = frozenset(SUFFIX)
    timeout_s: float = 60.0
    report: Callable[[str], None] | None = None
    taken: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    periods: int = 0  # periods that ended with the target alive
    seen: set[str] = field(default_factory=set)  # runtimes found in the tree at some period (any, not only wanted)

    def _loop(self) -> None:
        seq = 0
        failures = 0
        while not self._stop.wait(self.every_s):
            _rss, largest = tree_rss(self.root_pid, self.runtimes, seen=self.seen)
            if _rss is None:
                return  # the target is gone
            self.periods += 1
            if largest is None:
                continue  # e.g. a shell that has not started its node yet
            pid, runtime = largest
            seq += 1
            path = f"{self.prefix}.{pid}.{seq:03d}.{SUFFIX[runtime]}"
            # No force: a routine snapshot respects the capture's memory check (it must not be the OOM).
            if self._capture(pid, runtime, path, force=False) is not None:
                failures = 0
                continue
            failures += 1
            self._say(f"memdoctor: --heap-every: snapshot of PID {pid} failed: {self.errors[-1]}")
            if failures >= MAX_FAILURES_IN_A_ROW:
                self._say(f"memdoctor: --heap-every: {failures} snapshots failed in a row; no more are taken")
                return

    def found_nothing(self) -> bool:
        """A period passed and the tree held no Python or Node.js process at any: the option could not apply."""
        return self.periods > 0 and not self.seen and not self.taken


def start_heap_every(pid: int, every_s: float | None, trace_path: str | None, runtimes: frozenset[str],
                     timeout_s: float = 60.0) -> HeapEvery | None:
    """For run/watch: start the periodic snapshots of `pid`'s tree when --heap-every was given."""
    if not every_s:
        return None
    trigger = HeapEvery(pid, every_s, every_prefix(trace_path), runtimes, timeout_s=timeout_s)
    trigger.start()
    return trigger


def tree_rss(root: int, runtimes: frozenset[str] | None = None,
             seen: set[str] | None = None) -> tuple[int | None, tuple[int, str] | None]:
    """(RSS of the process tree, (PID, runtime) of its largest process of `runtimes`, default Python or
    Node.js) or (None, None) when gone. `seen` collects the runtimes (with a capture engine) met in the tree."""
    import psutil

    from memdoctor.heap.detect import runtime_of_pid

    try:
        proc = psutil.Process(root)
        procs = [proc, *proc.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None, None
    total = 0
    best: tuple[int, int, str] | None = None
    for p in procs:
        try:
            rss = p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += rss
        try:
            runtime = runtime_of_pid(p.pid)
        except HeapError:
            continue
        if seen is not None and runtime in SUFFIX:
            seen.add(runtime)
        if runtime in (runtimes or SUFFIX) and (best is None or rss > best[0]):
            best = (rss, p.pid, runtime)
    return total, (best[1], best[2]) if best else None


def start_snapshot_at(pid: int, shares_text: str | None, limit_bytes: int | None, trace_path: str | None,
                      timeout_s: float = 60.0,
                      on_capture: Callable[[], None] | None = None) -> Callable[[], None] | None:
    """For run/watch: start the trigger for `pid` when --snapshot-at was given; returns its stop function.

    `limit_bytes` None: the target's cgroup limit, else physical memory.
    """
    if not shares_text:
        return None
    shares = parse_shares(shares_text)
    if limit_bytes is None:
        from memdoctor.sampling.limits import discover_limit_for_pid

        limit_bytes = discover_limit_for_pid(pid).bytes
    trigger = SnapshotAt(pid, int(limit_bytes), shares, output_prefix(trace_path, pid), timeout_s=timeout_s,
                         on_capture=on_capture)
    return trigger.start()

