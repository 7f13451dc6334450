"""The process tree of a target: the target and all its descendants, as they come and go.

`npm start`, gunicorn and friends keep the real work in children, so the trace's `rss` is the
sum over the whole tree. Children are discovered through /proc/PID/task/TID/children (cheap,
kept-open files) at most every `rescan_s`; a child that exits drops out at the next sample.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from memdoctor.sampling.procfs import PROC, ProcessAccessDenied, ProcessGone, ProcHandle, read_text

# The heap agent's copy-on-write walker (memdoctor/heap/python/agent.py) renames itself so:
# it is memdoctor's own short-lived process, not part of the target's memory.
OWN_HELPER_COMM = "memdoctor-walk"


def is_own_helper(pid: int, proc: str = PROC) -> bool:
    try:
        return read_text(f"{proc}/{pid}/comm").startswith(OWN_HELPER_COMM)
    except (ProcessGone, ProcessAccessDenied, OSError):
        return False


@dataclass
class TreeDetails:
    pss: int | None
    uss: int | None
    swap: int | None
    fds: int | None
    threads: int


class ProcessTree:
    """Samples the memory of a root process and its descendants."""

    def __init__(self, root_pid: int, *, rescan_s: float = 0.25, follow_children: bool = True, proc: str = PROC):
        self.root = ProcHandle(root_pid, proc)  # raises ProcessGone / ProcessAccessDenied
        self.root_pid = root_pid
        self.rescan_s = rescan_s
        self.follow_children = follow_children
        self._proc = proc
        self.members: dict[int, ProcHandle] = {root_pid: self.root}
        self._next_rescan = 0.0
        self._thread_rescan_at = 0.0
        self._sighted: set[int] = set()  # children seen at the previous rescan
        self.root_alive = True

    def _rescan(self, now: float) -> None:
        # Thread lists change rarely; children lists are cheap preads.
        if now >= self._thread_rescan_at:
            for handle in self.members.values():
                handle.rescan_threads()
            self._thread_rescan_at = now + max(2.0, self.rescan_s)
        seen = {self.root_pid}
        frontier = [self.root]
        while frontier:
            handle = frontier.pop()
            for child in handle.children():
                if child in seen or is_own_helper(child, self._proc):
                    continue
                seen.add(child)
                member = self.members.get(child)
                if member is None:
                    # A new child joins at its second sighting: a fork child runs its after-fork
                    # handlers before it can rename itself (memdoctor's own heap walker), and a
                    # process that lives less than one rescan is not the memory that leaks.
                    if child not in self._sighted:
                        continue
                    try:
                        member = ProcHandle(child, self._proc)
                    except (ProcessGone, ProcessAccessDenied):
                        continue
                    self.members[child] = member
                frontier.append(member)
        for pid in [p for p in self.members if p not in seen]:
            self.members.pop(pid).close()
        self._sighted = seen

    def root_gone(self) -> bool:
        """Whether the root has exited (one pread of its statm; a zombie counts, as in sample())."""
        try:
            self.root.rss()
        except ProcessGone:
            return True
        return False

    def sample(self, now: float | None = None) -> tuple[int, int, int]:
        """(tree RSS, root RSS, processes). Raises ProcessGone when the root has exited.

        The hot path of every recording: a tuple, one pread per process, children looked for
        at most every `rescan_s` (a child living shorter than that may go unseen).
        """
        if self.follow_children:
            if now is None:
                now = time.monotonic()
            if now >= self._next_rescan:
                self._rescan(now)
                self._next_rescan = now + self.rescan_s
        root_rss = self.root.rss()
        if len(self.members) == 1:
            return root_rss, root_rss, 1
        total = root_rss
        gone = []
        for pid, handle in self.members.items():
            if handle is self.root:
                continue
            try:
                total += handle.rss()
            except ProcessGone:
                gone.append(pid)
        for pid in gone:
            self.members.pop(pid).close()
        return total, root_rss, len(self.members)

    def root_alone_until(self) -> float:
        """While the tree is the root alone: the time of the next rescan, until which a sample is
        the root's statm and nothing else (the recorder's shortcut); -inf when it has children."""
        if len(self.members) != 1:
            return -math.inf
        return self._next_rescan if self.follow_children else math.inf

    def details(self, with_smaps: bool = True) -> TreeDetails:
        """The slower numbers, summed over the tree: PSS, USS, swap, fds, threads."""
        pss = uss = swap = fds = 0
        smaps_ok = with_smaps
        fds_ok = True
        threads = 0
        for handle in list(self.members.values()):
            try:
                if with_smaps:
                    rollup = handle.smaps_rollup()
                    if rollup is None:
                        smaps_ok = False
                    else:
                        pss += rollup.pss
                        uss += rollup.uss
                        swap += rollup.swap
                count = handle.fds()
                if count is None:
                    fds_ok = False
                else:
                    fds += count
                threads += handle.threads()
            except ProcessGone:
                continue
        return TreeDetails(
            pss=pss if smaps_ok else None,
            uss=uss if smaps_ok else None,
            swap=swap if smaps_ok else None,
            fds=fds if fds_ok else None,
            threads=threads,
        )

    def close(self) -> None:
        for handle in self.members.values():
            handle.close()
        self.members.clear()
