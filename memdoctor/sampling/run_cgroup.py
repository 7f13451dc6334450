"""`run` puts the command in a memory cgroup of its own, when it can.

Sampling /proc every interval cannot see a child that lives between two samples (a 150 MB
helper that runs for 200 ms reads as nothing). The kernel charges every page of every process
of a cgroup and keeps the high-water mark: cgroup v2 `memory.peak`, v1
`memory.max_usage_in_bytes`. Its OOM counter (v2 `memory.events`, v1 `memory.oom_control`)
then counts the command's kills alone.

The cgroup is created next to memdoctor's own (a child of it, so every limit above applies
unchanged), the command is moved in before it execs (its first instruction already runs
there), and it is removed at the end. Both counters include page cache the command read or
wrote (its charge), so the peak can exceed the sampled RSS without any hidden process.
Creating it needs write access to memdoctor's cgroup (root, or a delegated subtree); v2 also
needs the memory controller already enabled for children (memdoctor does not change the host's
tree; a cgroup holding processes cannot turn it on anyway), v1 a hierarchical parent (with
use_hierarchy 0 a child would escape the limit). Otherwise `run` says in one line that short-lived
children may be missed.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass

from memdoctor.sampling.limits import _read, memory_cgroups, oom_kill_count


@dataclass
class RunCgroup:
    path: str
    version: int
    procs_fd: int  # cgroup.procs, open for writing: the child writes "0" into it before exec

    def move_self(self) -> None:
        """In the forked child, before exec: move this process into the cgroup (no allocation).
        A failure leaves it outside, which `holds` then tells."""
        try:
            os.write(self.procs_fd, b"0")
        except OSError:
            pass

    def holds(self, pid: int) -> bool:
        """Whether `pid` is in this cgroup (checked once after the launch)."""
        text = _read(os.path.join(self.path, "cgroup.procs")) or ""
        return str(pid) in text.split()

    def peak_bytes(self) -> int | None:
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        text = _read(os.path.join(self.path, name))
        try:
            return int(text.strip()) if text else None
        except ValueError:
            return None

    def oom_kills(self) -> int | None:
        return oom_kill_count(self.path, self.version)

    def close_procs(self) -> None:
        try:
            os.close(self.procs_fd)
        except OSError:
            pass

    def remove(self, wait_s: float = 5.0) -> bool:
        """rmdir once its processes are gone (the kernel reaps them a moment after they die)."""
        self.close_procs()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                os.rmdir(self.path)
                return True
            except FileNotFoundError:
                return True
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    return False
            time.sleep(0.02)


def create_run_cgroup() -> tuple[RunCgroup | None, str | None]:
    """A new memory cgroup under memdoctor's own, or (None, why not)."""
    cgroup_text = _read("/proc/self/cgroup") or ""
    mountinfo = _read("/proc/self/mountinfo") or ""
    found = memory_cgroups(cgroup_text, mountinfo)
    # On a hybrid host the memory controller lives in v1 (as in limits.discover_limit).
    found.sort(key=lambda item: item[0].version)
    if not found:
        return None, "no memory cgroup hierarchy is mounted"
    mount, own = found[0]
    if mount.version == 2:
        # Not turned on here: that changes the host's cgroup tree, and a cgroup holding processes
        # (memdoctor's own does) cannot turn it on anyway.
        controllers = (_read(os.path.join(own, "cgroup.subtree_control")) or "").split()
        if "memory" not in controllers:
            return None, f"the memory controller is not enabled for children of {own}"
    elif (_read(os.path.join(own, "memory.use_hierarchy")) or "1").strip() == "0":
        # A v1 child of a non-hierarchical cgroup is charged apart: the command would escape the
        # limit it runs under now.
        return None, f"{own} has memory.use_hierarchy 0 (a child cgroup would escape its limit)"
    _sweep_stale(own)
    path = os.path.join(own, f"memdoctor-run-{os.getpid()}")
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass
    except OSError as exc:
        return None, f"cannot create a cgroup under {own} ({exc.strerror})"
    try:
        fd = os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        try:
            os.rmdir(path)
        except OSError:
            pass
        return None, f"cannot use the cgroup {path} ({exc.strerror})"
    return RunCgroup(path, mount.version, fd), None


def _sweep_stale(own: str) -> None:
    """Remove the cgroups of earlier runs whose memdoctor is gone (a `kill -9` cannot clean up).
    rmdir only ever removes an empty cgroup: one still holding processes stays."""
    try:
        names = os.listdir(own)
    except OSError:
        return
    for name in names:
        owner = name[len("memdoctor-run-"):] if name.startswith("memdoctor-run-") else ""
        if owner.isdigit() and int(owner) != os.getpid() and not os.path.exists(f"/proc/{owner}"):
            try:
                os.rmdir(os.path.join(own, name))
            except OSError:
                pass
