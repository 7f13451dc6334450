"""What a recording samples: a process tree (by PID) or a whole memory cgroup.

A source has a hot `sample()` returning (rss, extra keys) and a slower `details()` for the
lower cadence. The recorder does not care which it is.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable, Collection
from typing import Any, Protocol

from memdoctor.sampling.cgroup import CgroupSampler
from memdoctor.sampling.procfs import ProcessGone
from memdoctor.sampling.tree import ProcessTree


class TargetGone(Exception):
    """The target exited: the recording ends."""


class Source(Protocol):
    # Names of the values after rss in what `values()` returns.
    fields: tuple[str, ...]
    # True when every value is always an int (the writer may then use its fast template).
    fast: bool

    def values(self, now: float) -> tuple[Any, ...]: ...  # (rss, *fields); raises TargetGone
    def details(self) -> dict[str, Any]: ...
    def close(self) -> None: ...
    # Optional: `gone() -> bool`, whether the target has exited, cheap enough to ask every STOP_CHECK_S.


class ProcessTreeSource:
    """The target process and its descendants, read from /proc."""

    # The series --metric may judge: those of every sample, then those of the detail lines (every
    # --detail-every; pss at every sample with --pss; heap: V8's used heap of Node.js processes that
    # memdoctor launched, HEAP_METRICS). Memory only: the engine's thresholds are bytes (fds and threads
    # are counts, which its 128 KiB minimum rise would never call a leak).
    SAMPLE_METRICS = ("rss", "rss_root")
    DETAIL_METRICS = ("pss", "uss", "swap", "heap")
    HEAP_METRICS = ("heap",)

    def __init__(self, tree: ProcessTree, *, child: subprocess.Popen | None = None, smaps: bool = True,
                 pss_every_sample: bool = False, heap: Callable[[Collection[int]], int | None] | None = None) -> None:
        self.tree = tree
        self.heap = heap  # the runtime heap of the tree (node_heap.NodeHeapChannel.latest), on detail lines
        # A launched child that exits stays a zombie until reaped, which the tree reads as
        # gone: no waitpid() is needed at every tick.
        self.child = child
        self.smaps = smaps
        self.pss_every_sample = pss_every_sample
        self.fields: tuple[str, ...] = ("rss_root", "procs", "pss") if pss_every_sample else ("rss_root", "procs")
        self.fast = not pss_every_sample
        self.denied: set[str] = set()

    def gone(self) -> bool:
        """Whether the root has exited (the tree backend's root_gone): the recorder asks it between the pieces
        of a long sleep, so that a command that exits is recorded as ended then, not a whole --interval later
        (`run -i 60s` of a program living 0.5 s waited 60 s for its next tick to notice)."""
        return self.tree.root_gone()

    def values(self, now: float) -> tuple[Any, ...]:
        try:
            sample = self.tree.sample(now)
        except ProcessGone:
            raise TargetGone() from None
        if self.pss_every_sample:
            return (*sample, self.tree.details(with_smaps=True).pss)
        return sample

    def single_statm(self) -> tuple[int, float] | None:
        """(statm descriptor, until when) while a sample is the root's statm alone, else None.

        The recorder then reads that descriptor itself, without the three calls of `values()`
        (140 against 150 us of CPU per tick at 10 ms on the loaded 2-core machine, record() in
        one process, 5 alternating runs), until the tree's next rescan, and its values are
        (rss, rss, 1): rss_root and procs of a lone root.
        """
        tree = self.tree
        if self.pss_every_sample or not isinstance(tree, ProcessTree):
            return None
        until = tree.root_alone_until()
        return (tree.root.statm_fd, until) if until > -math.inf else None

    def details(self) -> dict[str, Any]:
        d = self.tree.details(with_smaps=self.smaps)
        out: dict[str, Any] = {"threads": d.threads}
        if d.fds is not None:
            out["fds"] = d.fds
        elif "fds" not in self.denied:
            self.denied.add("fds")
        if self.smaps:
            if d.pss is None:
                self.denied.add("smaps")
            else:
                out.update(uss=d.uss, pss=d.pss, swap=d.swap)
        if self.heap is not None:
            heap = self.heap({self.tree.root_pid, *self.tree.members})
            if heap is not None:
                out["heap"] = heap
        return out

    def close(self) -> None:
        self.tree.close()


class CgroupSource:
    """A whole memory cgroup (a container)."""

    fields = ("usage", "cache", "anon", "kernel")
    SAMPLE_METRICS = ("rss", *fields)
    DETAIL_METRICS: tuple[str, ...] = ()
    HEAP_METRICS: tuple[str, ...] = ()
    fast = False  # some of these may be missing, depending on the kernel

    def __init__(self, sampler: CgroupSampler) -> None:
        self.sampler = sampler
        self.denied: set[str] = set()
        sampler.new_oom_events()  # the counter's value now: only later kills are events

    def events(self) -> list[str]:
        """OOM kills in the cgroup since the last sample (recorded as {"event": "oom_kill"} lines)."""
        return self.sampler.new_oom_events()

    def values(self, now: float) -> tuple[Any, ...]:
        s = self.sampler.sample()
        return s.rss, s.usage, s.cache, s.anon, s.kernel

    def details(self) -> dict[str, Any]:
        return {"procs": self.sampler.procs()}

    def close(self) -> None:
        self.sampler.close()
