"""What a recording samples: a process tree (by PID) or a whole memory cgroup.

A source has a hot `sample()` returning (rss, extra keys) and a slower `details()` for the
lower cadence. The recorder does not care which it is.
"""

from __future__ import annotations

import subprocess
from typing import Any, Protocol

from memdoctor.sampling.cgroup import CgroupSampler
from memdoctor.sampling.procfs import ProcessGone
from memdoctor.sampling.tree import ProcessTree


class TargetGone(Exception):
    """The target exited: the recording ends."""


class Source(Protocol):
    def sample(self) -> tuple[int, dict[str, Any]]: ...
    def details(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


class ProcessTreeSource:
    """The target process and its descendants, read from /proc."""

    def __init__(self, tree: ProcessTree, *, child: subprocess.Popen | None = None, smaps: bool = True,
                 pss_every_sample: bool = False) -> None:
        self.tree = tree
        self.child = child
        self.smaps = smaps
        self.pss_every_sample = pss_every_sample
        self.denied: set[str] = set()

    def sample(self) -> tuple[int, dict[str, Any]]:
        if self.child is not None and self.child.poll() is not None:
            raise TargetGone()
        try:
            s = self.tree.sample()
        except ProcessGone:
            raise TargetGone() from None
        extra: dict[str, Any] = {"rss_root": s.rss_root, "procs": s.procs}
        if self.pss_every_sample:
            d = self.tree.details(with_smaps=True)
            if d.pss is not None:
                extra["pss"] = d.pss
        return s.rss, extra

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
        return out

    def close(self) -> None:
        self.tree.close()


class CgroupSource:
    """A whole memory cgroup (a container)."""

    def __init__(self, sampler: CgroupSampler) -> None:
        self.sampler = sampler
        self.denied: set[str] = set()

    def sample(self) -> tuple[int, dict[str, Any]]:
        s = self.sampler.sample()
        extra: dict[str, Any] = {"usage": s.usage}
        for key in ("cache", "anon", "kernel"):
            value = getattr(s, key)
            if value is not None:
                extra[key] = value
        return s.rss, extra

    def details(self) -> dict[str, Any]:
        return {"procs": self.sampler.procs()}

    def close(self) -> None:
        self.sampler.close()
