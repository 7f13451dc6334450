"""Which runtime a process or a snapshot file belongs to."""

from __future__ import annotations

import os

from memdoctor.heap.runtimes import HeapError

# First bytes of each snapshot format memdoctor reads.
V8_PREFIXES = (b'{"snapshot":', b'{\n  "snapshot"', b'{ "snapshot"')
PYTHON_SNAPSHOT_MAGIC = b'{"memdoctor_heap":'
MEMRAY_LZ4_MAGIC = b"\x04\x22\x4d\x18"  # `memray run` compresses its capture files (LZ4 frame) by default


def runtime_of_pid(pid: int) -> str:
    """"python" or "node", from the executable and the libraries mapped in the process."""
    try:
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except FileNotFoundError:
        raise HeapError(f"no process with PID {pid}") from None
    except PermissionError:
        raise HeapError(f"cannot inspect process {pid}: permission denied; run as its user or root") from None
    if exe.startswith(("python", "pypy")):
        return "python"
    if exe.startswith("node"):
        return "node"
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as fh:
            maps = fh.read()
    except OSError:
        maps = ""
    if "libpython" in maps:
        return "python"
    if "libnode" in maps:
        return "node"
    raise HeapError(f"process {pid} ({exe}) is neither Python nor Node.js: memdoctor snapshots those two")


def is_memray_capture(head: bytes) -> bool:
    """A memray capture file, from its first bytes (plain or LZ4-compressed)."""
    return head.startswith((b"memray", MEMRAY_LZ4_MAGIC))


def runtime_of_file(path: str) -> str:
    """"python" or "node" from a snapshot file's first bytes (or its format family)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except FileNotFoundError:
        raise HeapError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise HeapError(f"{path} is a directory, not a snapshot") from None
    except OSError as exc:
        raise HeapError(f"cannot read {path}: {exc.strerror}") from None
    stripped = head.lstrip()
    if not stripped:
        raise HeapError(f"{path} is empty")
    if stripped.startswith(PYTHON_SNAPSHOT_MAGIC):
        return "python"
    if any(stripped.startswith(p) for p in V8_PREFIXES) or (stripped.startswith(b"{") and b"snapshot" in head):
        return "node"
    # Other tools' files: tracemalloc dumps (pickles) and memray captures are Python.
    if stripped[:1] == b"\x80" or is_memray_capture(head):
        return "python"
    raise HeapError(f"{path} is not a heap snapshot memdoctor reads (memdoctor Python snapshots, V8 "
                    ".heapsnapshot, tracemalloc dumps, memray captures)")
