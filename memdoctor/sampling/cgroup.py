"""Sampling a whole container's memory cgroup: what the OOM killer judges.

`rss` in a cgroup trace is the working set, usage minus inactive page cache (what the kubelet
evicts on and what `container_memory_working_set_bytes` reports): page cache that can be
dropped is not a leak. The raw charge is kept as `usage`, with `cache`, `anon` and `kernel`
split out where the kernel reports them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from memdoctor.errors import MemdoctorError
from memdoctor.sampling.limits import UNLIMITED_THRESHOLD, oom_kill_count, oom_state

# At most this many oom_kill events per sample: a fork bomb killed a thousand times between two
# samples is one fact, not a thousand trace lines.
MAX_EVENTS_PER_SAMPLE = 16


class CgroupError(MemdoctorError):
    """The path is not a readable memory cgroup."""


@dataclass
class CgroupSample:
    rss: int  # working set
    usage: int
    cache: int | None
    anon: int | None
    kernel: int | None


def parse_memory_stat(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def split_usage(usage: int, stat: dict[str, int], version: int, kmem: int | None = None) -> CgroupSample:
    """Working set, page cache, anonymous and kernel memory from usage and memory.stat."""
    if version == 2:
        inactive = stat.get("inactive_file", 0)
        cache = stat.get("file")
        anon = stat.get("anon")
        kernel = stat.get("kernel")
        if kernel is None and "slab" in stat:
            kernel = stat.get("slab", 0) + stat.get("kernel_stack", 0) + stat.get("pagetables", 0) + stat.get("sock", 0)
    else:
        # v1 memory.stat of a cgroup: total_* include descendants, which usage_in_bytes does too.
        inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
        cache = stat.get("total_cache", stat.get("cache"))
        anon = stat.get("total_rss", stat.get("rss"))
        kernel = kmem
    working_set = max(0, usage - inactive)
    return CgroupSample(rss=working_set, usage=usage, cache=cache, anon=anon, kernel=kernel)


class CgroupSampler:
    """Reads one memory cgroup directory (v1 or v2) with its files kept open."""

    def __init__(self, directory: str) -> None:
        directory = os.path.abspath(directory)
        if os.path.exists(os.path.join(directory, "memory.current")):
            self.version = 2
            usage_name = "memory.current"
        elif os.path.exists(os.path.join(directory, "memory.usage_in_bytes")):
            self.version = 1
            usage_name = "memory.usage_in_bytes"
        else:
            raise CgroupError(
                f"{directory} is not a memory cgroup (no memory.current or memory.usage_in_bytes); "
                "give a directory under /sys/fs/cgroup (v2) or /sys/fs/cgroup/memory (v1)"
            )
        self.directory = directory
        try:
            self._usage = os.open(os.path.join(directory, usage_name), os.O_RDONLY | os.O_CLOEXEC)
            self._stat = os.open(os.path.join(directory, "memory.stat"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise CgroupError(f"cannot read {directory}: {exc.strerror}") from None
        kmem_path = os.path.join(directory, "memory.kmem.usage_in_bytes")
        self._kmem = os.open(kmem_path, os.O_RDONLY | os.O_CLOEXEC) if os.path.exists(kmem_path) else None
        # The OOM-kill counter, read at every sample (a pread of a kept-open file, ~2 us): a kill
        # inside the cgroup is a fact the trace must hold, whatever the memory curve shows after.
        oom_path = os.path.join(directory, "memory.events" if self.version == 2 else "memory.oom_control")
        try:
            self._oom: int | None = os.open(oom_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._oom = None
        self._oom_seen: int | None = None
        self._under_oom = False

    def limit(self) -> tuple[int, str] | None:
        name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        try:
            with open(os.path.join(self.directory, name)) as fh:
                text = fh.read().strip()
        except OSError:
            return None
        if text == "max" or not text.isdigit() or int(text) >= UNLIMITED_THRESHOLD:
            return None
        return int(text), os.path.join(self.directory, name)

    def oom_kills(self) -> int | None:
        return oom_kill_count(self.directory, self.version)

    def new_oom_events(self) -> list[str]:
        """Events since the last call: one "oom_kill" per kill the counter counted, and "under_oom"
        when a v1 cgroup with its OOM killer disabled enters that state. The first call sets the base."""
        if self._oom is None:
            return []
        try:
            kills, under = oom_state(os.pread(self._oom, 4096, 0).decode("ascii", "replace"))
        except OSError:
            return []
        events: list[str] = []
        if kills is not None:
            if self._oom_seen is not None and kills > self._oom_seen:
                events += ["oom_kill"] * min(kills - self._oom_seen, MAX_EVENTS_PER_SAMPLE)
            self._oom_seen = kills
        if under and not self._under_oom:
            events.append("under_oom")
        self._under_oom = under
        return events

    def procs(self) -> int:
        try:
            with open(os.path.join(self.directory, "cgroup.procs")) as fh:
                return sum(1 for line in fh if line.strip())
        except OSError:
            return 0

    def sample(self) -> CgroupSample:
        try:
            usage = int(os.pread(self._usage, 64, 0))
            stat = parse_memory_stat(os.pread(self._stat, 1 << 16, 0).decode())
            kmem = int(os.pread(self._kmem, 64, 0)) if self._kmem is not None else None
        except (OSError, ValueError) as exc:
            raise CgroupError(f"cgroup {self.directory} can no longer be read: {exc}") from None
        return split_usage(usage, stat, self.version, kmem)

    def close(self) -> None:
        for fd in (self._usage, self._stat, self._kmem, self._oom):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
