"""The memory limit that applies to a process, and its OOM-kill counter.

The limit is the smallest one on the path from the process's memory cgroup up to the root of
the hierarchy: cgroup v2 `memory.max` of each ancestor; cgroup v1 `memory.limit_in_bytes` of
each ancestor and `hierarchical_memory_limit` in `memory.stat`. "Unlimited" reads `max` (v2)
or a huge page-rounded number (v1: 9223372036854771712). Hybrid hosts list both hierarchies in
/proc/PID/cgroup; the smaller limit wins. No limit: physical RAM.

Every path goes through `root` (normally "/"), so tests can build real cgroup v1 and v2 file
layouts in a temporary directory, and targets in other mount namespaces can be reached
through /proc/PID/root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Anything at or above this is "no limit" (v1 reports LONG_MAX rounded down to a page).
UNLIMITED_THRESHOLD = 1 << 62


@dataclass(frozen=True)
class CgroupEntry:
    hierarchy: str
    controllers: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class CgroupMount:
    version: int  # 1 or 2
    root: str  # the cgroup path mounted there (field 4 of mountinfo)
    mountpoint: str
    options: tuple[str, ...]  # super options: the v1 controllers


@dataclass(frozen=True)
class MemoryLimit:
    bytes: int
    source: str  # where it came from, for the trace header and the report
    cgroup_dir: str | None = None  # the process's own memory cgroup directory, if found
    version: int | None = None


def parse_proc_cgroup(text: str) -> list[CgroupEntry]:
    """Lines of /proc/PID/cgroup: "hierarchy-ID:controller-list:cgroup-path"."""
    entries = []
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        controllers = tuple(c for c in parts[1].split(",") if c)
        entries.append(CgroupEntry(parts[0], controllers, parts[2]))
    return entries


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """cgroup and cgroup2 mounts from /proc/PID/mountinfo."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        tail = right.split()
        if len(fields) < 5 or len(tail) < 2:
            continue
        fstype = tail[0]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        options = tuple(tail[2].split(",")) if len(tail) > 2 else ()
        mounts.append(CgroupMount(2 if fstype == "cgroup2" else 1, _unescape(fields[3]), _unescape(fields[4]), options))
    return mounts


def _unescape(path: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal.
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _parse_limit(text: str | None) -> int | None:
    if text is None:
        return None
    value = text.strip().split("\n")[0].strip()
    if value in ("", "max"):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return None if number <= 0 or number >= UNLIMITED_THRESHOLD else number


def _stat_value(text: str | None, key: str) -> int | None:
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _cgroup_dir(mount: CgroupMount, cgroup_path: str, root: str) -> str | None:
    """The directory of `cgroup_path` under `mount`, seen from `root`."""
    rel = cgroup_path
    if mount.root not in ("", "/"):
        if rel == mount.root:
            rel = "/"
        elif rel.startswith(mount.root.rstrip("/") + "/"):
            rel = rel[len(mount.root.rstrip("/")):]
        # Otherwise the path is already relative to a namespaced root (cgroupns): use as is.
    base = os.path.join(root, mount.mountpoint.lstrip("/"))
    return os.path.normpath(os.path.join(base, rel.lstrip("/")))


def _ancestors(directory: str, top: str) -> list[str]:
    """`directory` and each parent up to and including `top`."""
    out = []
    current = os.path.normpath(directory)
    top = os.path.normpath(top)
    while True:
        out.append(current)
        if current == top or len(current) <= len(top):
            break
        current = os.path.dirname(current)
    return out


def limit_v2(cg_dir: str, mount_dir: str) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for directory in _ancestors(cg_dir, mount_dir):
        value = _parse_limit(_read(os.path.join(directory, "memory.max")))
        if value is not None and (best is None or value < best[0]):
            best = (value, os.path.join(directory, "memory.max"))
    return best


def limit_v1(cg_dir: str, mount_dir: str) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    hierarchical = _stat_value(_read(os.path.join(cg_dir, "memory.stat")), "hierarchical_memory_limit")
    if hierarchical is not None and 0 < hierarchical < UNLIMITED_THRESHOLD:
        best = (hierarchical, os.path.join(cg_dir, "memory.stat") + " hierarchical_memory_limit")
    for directory in _ancestors(cg_dir, mount_dir):
        value = _parse_limit(_read(os.path.join(directory, "memory.limit_in_bytes")))
        if value is not None and (best is None or value < best[0]):
            best = (value, os.path.join(directory, "memory.limit_in_bytes"))
    return best


def with_override(discovered: MemoryLimit, override: int | None) -> MemoryLimit:
    """The discovered limit, or --limit in its place (keeping the cgroup for the OOM counter)."""
    if override is None:
        return discovered
    return MemoryLimit(override, "--limit", discovered.cgroup_dir, discovered.version)


def physical_memory(root: str = "/") -> int:
    text = _read(os.path.join(root, "proc/meminfo")) or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def memory_cgroups(cgroup_text: str, mountinfo_text: str, root: str = "/") -> list[tuple[CgroupMount, str]]:
    """The memory cgroup directories of a process: (mount, directory) for v2 and/or v1."""
    entries = parse_proc_cgroup(cgroup_text)
    mounts = parse_mountinfo(mountinfo_text)
    found = []
    for entry in entries:
        if entry.hierarchy == "0" and not entry.controllers:
            for mount in mounts:
                if mount.version == 2:
                    directory = _cgroup_dir(mount, entry.path, root)
                    if directory and os.path.isdir(directory):
                        found.append((mount, directory))
                        break
        elif "memory" in entry.controllers:
            for mount in mounts:
                if mount.version == 1 and "memory" in mount.options:
                    directory = _cgroup_dir(mount, entry.path, root)
                    if directory and os.path.isdir(directory):
                        found.append((mount, directory))
                        break
    return found


def discover_limit(cgroup_text: str, mountinfo_text: str, root: str = "/") -> MemoryLimit:
    """The smallest memory limit over every memory cgroup hierarchy; physical RAM when none."""
    best: MemoryLimit | None = None
    own_dir: tuple[str, int] | None = None
    for mount, directory in memory_cgroups(cgroup_text, mountinfo_text, root):
        mount_dir = os.path.join(root, mount.mountpoint.lstrip("/"))
        result = limit_v2(directory, mount_dir) if mount.version == 2 else limit_v1(directory, mount_dir)
        # On a hybrid host the memory controller (and its OOM counter) lives in v1: prefer it.
        if own_dir is None or mount.version == 1:
            own_dir = (directory, mount.version)
        if result and (best is None or result[0] < best.bytes):
            best = MemoryLimit(result[0], f"cgroup v{mount.version} {result[1]}", directory, mount.version)
    if best is not None:
        return best
    directory, version = own_dir if own_dir else (None, None)
    return MemoryLimit(physical_memory(root), "physical memory (no cgroup limit)", directory, version)


def discover_limit_for_pid(pid: int, root: str = "/") -> MemoryLimit:
    """The limit for a running process, from its /proc/PID/cgroup and our mount table."""
    proc = os.path.join(root, "proc")
    cgroup_text = _read(os.path.join(proc, str(pid), "cgroup")) or ""
    mountinfo_text = _read(os.path.join(proc, "self", "mountinfo")) or ""
    return discover_limit(cgroup_text, mountinfo_text, root)


def oom_state(text: str | None) -> tuple[int | None, bool]:
    """(oom_kill counter, under_oom) from memory.events (v2) or memory.oom_control (v1).

    v1's `under_oom 1` means the cgroup is at its limit with the OOM killer disabled: its tasks
    hang instead of dying. v2 has no such flag (its `oom` counter counts OOM situations)."""
    return _stat_value(text, "oom_kill"), _stat_value(text, "under_oom") == 1


def oom_kill_count(cg_dir: str | None, version: int | None) -> int | None:
    """The cgroup's OOM-kill counter: v2 memory.events, v1 memory.oom_control (newer kernels)."""
    if not cg_dir:
        return None
    name = "memory.events" if version == 2 else "memory.oom_control"
    return _stat_value(_read(os.path.join(cg_dir, name)), "oom_kill")
