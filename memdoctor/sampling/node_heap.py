"""V8's heap beside RSS for `run -- node ...`: the `heap` series of the trace.

RSS hides a Node.js leak under V8's own sawtooth for minutes (V8 keeps freed pages and sizes its
heap as it goes); the used heap after a major GC does not. The command is started with
`--require node_heap_preload.js` added to NODE_OPTIONS and an unnamed file (O_TMPFILE in memdoctor's
private state directory, O_APPEND, mode 0600: no path anyone could swap) passed as
MEMDOCTOR_NODE_HEAP_FD. Every Node.js process of
the tree that inherits it appends "PID UNIX_MS USED TOTAL" lines (after each major GC, and once a
second); `latest()` reads what was appended since the last call and sums each live process's newest
used heap. The file grows by ~40 bytes a second per process (about 150 KB an hour) and is gone
when memdoctor closes it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

PRELOAD = Path(__file__).with_name("node_heap_preload.js")
FD_ENV = "MEMDOCTOR_NODE_HEAP_FD"
# A process's report older than this is left out of the sum: the preload reports once a second, so
# three missed reports mean the process is gone (or blocked, when its last value is no better).
STALE_S = 3.0
READ_MAX = 1 << 20  # bytes read per call: a minute of reports from a few dozen processes


class NodeHeapChannel:
    """The file the preload writes to, and the running sum of the newest report of each process."""

    def __init__(self) -> None:
        # In memdoctor's private state directory (0700, never a shared one: docs/security.md rule 2), and
        # unnamed: no path exists that anyone could swap or read.
        from memdoctor.heap.statedir import state_dir

        directory = state_dir()
        try:
            self.fd = os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError:  # a file system without O_TMPFILE: a named file there, unlinked at once
            fd, path = tempfile.mkstemp(prefix="node-heap-", dir=directory)
            try:
                self.fd = os.open(f"/proc/self/fd/{fd}", os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
            finally:
                os.unlink(path)
                os.close(fd)
        self._offset = 0
        self._partial = b""
        self._latest: dict[int, tuple[float, int]] = {}  # pid -> (monotonic time read, used bytes)

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The command's environment: NODE_OPTIONS with the preload added, and the descriptor's number."""
        env = dict(os.environ if base is None else base)
        preload = str(PRELOAD).replace("\\", "\\\\").replace('"', '\\"')  # NODE_OPTIONS' quoting
        options = env.get("NODE_OPTIONS", "").strip()
        env["NODE_OPTIONS"] = (options + " " if options else "") + f'--require "{preload}"'
        env[FD_ENV] = str(self.fd)
        return env

    def latest(self, pids: Collection[int] | None = None) -> int | None:
        """The sum of the newest used-heap report of each process heard from within STALE_S, or None; with
        `pids` (the processes of the tree now), only theirs: a process that has left the tree reports no
        more, and its last report must not outlive it by STALE_S (a heap above the tree's RSS after a Node
        child exited under its shell)."""
        try:
            data = os.pread(self.fd, READ_MAX, self._offset)
        except OSError:
            data = b""
        now = time.monotonic()
        if data:
            self._offset += len(data)
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()[:256]  # a line still being written (bounded: a garbage writer)
            for line in lines:
                parts = line.split()
                if len(parts) != 4:
                    continue
                try:
                    pid, used = int(parts[0]), int(parts[2])
                except ValueError:
                    continue
                if pid > 0 and used >= 0:
                    self._latest[pid] = (now, used)
        fresh = [used for pid, (seen, used) in self._latest.items()
                 if now - seen <= STALE_S and (pids is None or pid in pids)]
        return sum(fresh) if fresh else None

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
