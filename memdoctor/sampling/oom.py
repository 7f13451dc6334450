"""OOM kills as facts: how a recording learns of them, and how they reach the one diagnosis.

A process killed at its memory limit is the strongest leak evidence there is, not a restart:
- the cgroup's own counter (v2 memory.events `oom_kill`, v1 memory.oom_control `oom_kill`)
  rising while the target dies, or a SIGKILL with memory at the limit (sampling/limits.py);
- a Node.js process that aborts (SIGABRT) with its memory at V8's heap limit: V8 ends a heap
  that cannot grow with "FATAL ERROR: ... JavaScript heap out of memory" and abort(), which no
  cgroup counter sees. The limit is --max-old-space-size (in the command or NODE_OPTIONS), else
  what that node reports as its default heap_size_limit.
"""

from __future__ import annotations

import os
import re
import subprocess

SIGABRT_RC = -6
# A node that aborted with its RSS at >= this share of its heap limit died of heap exhaustion:
# at the limit the old space alone holds that much (RSS adds the young space, code and the
# runtime, ~30-40 MiB for node 20); an abort for another reason (an addon's assertion) happens
# at whatever size the heap has.
V8_HEAP_SHARE = 0.8
_MAX_OLD_SPACE = re.compile(r"--max[-_]old[-_]space[-_]size(?:=|\s+)(\d+)")


def node_heap_limit_bytes(cmd: list[str], env: dict[str, str] | None = None) -> int | None:
    """V8's heap limit for this node command: its --max-old-space-size, else node's default."""
    env = dict(os.environ if env is None else env)
    flags = " ".join(cmd[1:next((i for i, a in enumerate(cmd[1:], 1) if not a.startswith("-")), len(cmd))])
    for text in (flags, env.get("NODE_OPTIONS", "")):
        found = _MAX_OLD_SPACE.findall(text)
        if found:
            return int(found[-1]) * 1024 * 1024
    try:
        out = subprocess.run([cmd[0], "-p", "require('v8').getHeapStatistics().heap_size_limit"], env=env,
                             capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
        return int(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def died_of_v8_heap(cmd: list[str], runtime: str | None, returncode: int | None, last_rss: float | None) -> bool:
    """True when a node command aborted with its memory at V8's heap limit (see the module doc)."""
    if runtime != "node" or returncode != SIGABRT_RC or last_rss is None:
        return False
    limit = node_heap_limit_bytes(cmd)
    return limit is not None and last_rss >= V8_HEAP_SHARE * limit
