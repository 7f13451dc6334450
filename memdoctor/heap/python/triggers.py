"""`run`/`watch --snapshot-at 70%,85%`: snapshot the target as its memory crosses those shares
of the limit, so the evidence exists before the OOM kill.

A daemon thread reads the RSS of the target's process tree every `poll_s`; when it first
crosses a share, the largest Python process of the tree is snapshotted (launch-mode agent if
present, else gdb) into `PREFIX.at70.snap` (+ .meta.json). Each share fires once.
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
            rss, python_pid = tree_rss(self.root_pid)
            if rss is None:
                return
            crossed = [s for s in pending if rss >= s * self.limit_bytes]
            if not crossed or python_pid is None:
                continue
            share = crossed[-1]
            pending = [s for s in pending if s > share]
            self._snapshot(python_pid, share, rss)

    def _snapshot(self, pid: int, share: float, rss: int) -> None:
        from memdoctor.heap.python.capture import capture

        path = f"{self.prefix}.at{round(share * 100)}.snap"
        try:
            meta = capture(pid, path, options=CaptureOptions(timeout_s=self.timeout_s, force=True))
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


def tree_rss(root: int) -> tuple[int | None, int | None]:
    """(RSS of the process tree, PID of its largest Python process) or (None, None) when gone."""
    import psutil

    from memdoctor.heap.detect import runtime_of_pid

    try:
        proc = psutil.Process(root)
        procs = [proc, *proc.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None, None
    total = 0
    best: tuple[int, int] | None = None
    for p in procs:
        try:
            rss = p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += rss
        try:
            is_python = runtime_of_pid(p.pid) == "python"
        except HeapError:
            is_python = False
        if is_python and (best is None or rss > best[0]):
            best = (rss, p.pid)
    return total, best[1] if best else None


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

