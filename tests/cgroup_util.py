"""Create a real memory cgroup for a test (needs root and a writable cgroup fs), or skip."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from memdoctor.sampling.limits import parse_mountinfo


def _mounts():
    with open("/proc/self/mountinfo") as fh:
        return parse_mountinfo(fh.read())


class RealCgroup:
    def __init__(self, path: Path, version: int) -> None:
        self.path = path
        self.version = version

    def set_limit(self, limit: int) -> None:
        if self.version == 2:
            (self.path / "memory.max").write_text(str(limit))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")
        else:
            (self.path / "memory.limit_in_bytes").write_text(str(limit))
            swappiness = self.path / "memory.swappiness"
            if swappiness.exists():
                try:
                    swappiness.write_text("0")
                except OSError:
                    pass

    @property
    def procs_file(self) -> Path:
        return self.path / "cgroup.procs"

    def remove(self) -> None:
        # Processes must be gone before rmdir works; give the kernel a moment to reap them.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if not self.procs_file.read_text().strip():
                    self.path.rmdir()
                    return
            except FileNotFoundError:
                return
            except OSError:
                pass
            time.sleep(0.05)


def _memory_hierarchy() -> tuple[Path, int] | None:
    """Where to create a memory cgroup: the v1 memory mount, else a v2 mount with the controller."""
    mounts = _mounts()
    for mount in mounts:
        if mount.version == 1 and "memory" in mount.options:
            return Path(mount.mountpoint), 1
    for mount in mounts:
        controllers = Path(mount.mountpoint) / "cgroup.controllers"
        if mount.version == 2 and controllers.exists() and "memory" in controllers.read_text().split():
            return Path(mount.mountpoint), 2
    return None


def make_memory_cgroup() -> RealCgroup:
    if os.geteuid() != 0:
        pytest.skip("creating a memory cgroup needs root")
    found = _memory_hierarchy()
    if found is None:
        pytest.skip("no memory cgroup hierarchy on this machine")
    base, version = found
    path = base / f"memdoctor-test-{uuid.uuid4().hex[:8]}"
    try:
        path.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot create a memory cgroup here: {exc}")
    return RealCgroup(path, version)
