"""Launch mode: `memdoctor run --heap-every 60s -- python app.py`, snapshots without ptrace.

The child is started with this package's `launch_site` directory first on PYTHONPATH: its
sitecustomize loads agent.py (by path) and starts two daemon threads in every Python process
of the tree: one writes a snapshot every `every_s` seconds next to the trace
(`TRACE.heap.PID.NNN.snap` with its `.meta.json`), the other answers a control socket
(`/tmp/memdoctor-agent-UID/PID.sock`, mode 0600 in a 0700 directory) so that
`memdoctor snapshot PID` works on such a process without gdb.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from memdoctor.heap.python.target import CONTROL_ENV

SITE_DIR = Path(__file__).with_name("launch_site")
AGENT = Path(__file__).with_name("agent.py")
ENV_KEYS = ("PYTHONPATH", "MEMDOCTOR_HEAP_AGENT", "MEMDOCTOR_HEAP_CONFIG", CONTROL_ENV)


@dataclass
class LaunchHeap:
    directory: str
    prefix: str
    every_s: float | None

    def snapshots(self) -> list[str]:
        """The periodic snapshots written so far, oldest first per process."""
        return sorted(glob.glob(os.path.join(glob.escape(self.directory), glob.escape(self.prefix) + ".*.snap")))

    def failures(self, since: float = 0.0) -> list[tuple[str, str]]:
        """(meta file, error) of each periodic snapshot that failed in the target (modified after `since`)."""
        pattern = os.path.join(glob.escape(self.directory), glob.escape(self.prefix) + ".*.snap.meta.json")
        failed = []
        for path in sorted(glob.glob(pattern)):
            try:
                if os.path.getmtime(path) < since:
                    continue
                with open(path, encoding="utf-8") as fh:
                    meta = json.loads(fh.read(4096))
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict) and meta.get("ok") is False:
                failed.append((path, str(meta.get("error") or "unknown error")[:80]))
        return failed


def failure_line(heap: LaunchHeap, since: float, written: int) -> str | None:
    """One line saying that periodic snapshots failed, or None when none did."""
    failed = heap.failures(since)
    if not failed:
        return None
    path, error = failed[0]
    return (f"{len(failed)} of {len(failed) + written} heap snapshots failed inside the target "
            f"(first: {error}, {os.path.basename(path)})")


def process_started(pid: int) -> int | None:
    """Start time of `pid` in clock ticks (field 22 of /proc/PID/stat), as the agent reads it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read()
        return int(text[text.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def control_dir() -> str:
    return f"/tmp/memdoctor-agent-{os.geteuid()}"


def heap_environment(every_s: float | None, trace_path: str | None, limit_bytes: int | None,
                     base: dict[str, str] | None = None) -> tuple[dict[str, str], LaunchHeap]:
    """The environment variables that start the agent in a child, and where its snapshots go."""
    from memdoctor.heap.triggers import every_prefix

    env = dict(os.environ if base is None else base)
    # The same names as the snapshots `--heap-every` takes from outside (Node.js, watch): one place says them.
    directory, prefix = os.path.split(every_prefix(trace_path))
    # The agent stops its periodic snapshots when this process is gone (PID and start time: a reused
    # PID is another process), so a `kill -9` of memdoctor does not leave them running forever.
    owner = os.getpid()
    config = {"every_s": every_s or 0, "dir": directory, "prefix": prefix, "control_dir": control_dir(),
              "limit_bytes": limit_bytes, "trim": True, "owner_pid": owner, "owner_started": process_started(owner)}
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(SITE_DIR) + (os.pathsep + old if old else "")
    env["MEMDOCTOR_HEAP_AGENT"] = str(AGENT)
    env["MEMDOCTOR_HEAP_CONFIG"] = json.dumps(config)
    env[CONTROL_ENV] = config["control_dir"]
    return env, LaunchHeap(directory, prefix, every_s)


@contextmanager
def heap_launch_environment(every_s: float | None, trace_path: str | None,
                            limit_bytes: int | None) -> Iterator[LaunchHeap | None]:
    """Set the launch-mode variables in os.environ while the child is started (it inherits them).

    With every_s None nothing is changed and None is yielded.
    """
    if every_s is None:
        yield None
        return
    if every_s <= 0:
        from memdoctor.units import UnitError

        raise UnitError("--heap-every must be longer than zero")
    saved = {key: os.environ.get(key) for key in ENV_KEYS}
    env, info = heap_environment(every_s, trace_path, limit_bytes)
    os.environ.update({key: env[key] for key in ENV_KEYS})
    try:
        yield info
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
