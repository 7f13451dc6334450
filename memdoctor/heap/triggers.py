"""`run`/`watch --snapshot-at 70%,85%`: snapshot the target as its memory crosses those shares
of the limit, so the evidence exists before the OOM kill.

A daemon thread reads the RSS of the target's process tree every `poll_s`; when it first
crosses a share, the largest Python or Node.js process of the tree is snapshotted by its
runtime's engine (Python: the launch-mode agent if present, else gdb; Node: the inspector, as
`memdoctor snapshot`) into `PREFIX.at70.snap` or `PREFIX.at70.heapsnapshot` (+ .meta.json).
Each share fires once. (Before, the trigger knew Python only: a Node service crossed its shares
and no snapshot was taken.)
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


@dataclass
class SnapshotAt:
    root_pid: int
    limit_bytes: int
    shares: list[float]
    prefix: str
    timeout_s: float = 60.0
    poll_s: float = POLL_S
    report: Callable[[str], None] | None = None
    taken: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Callable[[], None]:
        """Start watching; returns the function that stops it (waits for a snapshot in progress)."""
        self._thread = threading.Thread(target=self._loop, name="memdoctor-snapshot-at", daemon=True)
        self._thread.start()
        return self.stop

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 30)

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
        from memdoctor.heap.runtimes import engine

        pid, runtime = target
        path = f"{self.prefix}.at{round(share * 100)}.{SUFFIX[runtime]}"
        try:
            # force: near the limit is exactly when these snapshots matter; the capture's own memory check
            # would refuse the very moment they were asked for (the user chose the shares knowing the cost).
            meta = engine(runtime, "capture").capture(pid, path, options=CaptureOptions(timeout_s=self.timeout_s,
                                                                                         force=True))
        except HeapError as exc:
            self.errors.append(str(exc))
            self._say(f"memdoctor: memory at {share:.0%} of the limit, snapshot of PID {pid} failed: {exc}")
            return
        meta["path"] = path
        meta["share"] = share
        self.taken.append(meta)
        self._say(f"memdoctor: memory at {share:.0%} of the limit: snapshot of PID {pid} written to {path}")

    def _say(self, line: str) -> None:
        if self.report is not None:
            self.report(line)
        else:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


def tree_rss(root: int) -> tuple[int | None, tuple[int, str] | None]:
    """(RSS of the process tree, (PID, runtime) of its largest Python or Node.js process) or (None, None)
    when gone."""
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
        if runtime in SUFFIX and (best is None or rss > best[0]):
            best = (rss, p.pid, runtime)
    return total, (best[1], best[2]) if best else None


def start_snapshot_at(pid: int, shares_text: str | None, limit_bytes: int | None, trace_path: str | None,
                      timeout_s: float = 60.0) -> Callable[[], None] | None:
    """For run/watch: start the trigger for `pid` when --snapshot-at was given; returns its stop function.

    `limit_bytes` None: the target's cgroup limit, else physical memory.
    """
    if not shares_text:
        return None
    shares = parse_shares(shares_text)
    if limit_bytes is None:
        from memdoctor.sampling.limits import discover_limit_for_pid

        limit_bytes = discover_limit_for_pid(pid).bytes
    trigger = SnapshotAt(pid, int(limit_bytes), shares, output_prefix(trace_path, pid), timeout_s=timeout_s)
    return trigger.start()

