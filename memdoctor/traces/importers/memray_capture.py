"""memray capture files: the RSS and heap samples memray records over time (every ~10 ms).

memray's CLI cannot export this series; its own reader API can:
`memray.FileReader(path).get_memory_snapshots()` yields MemorySnapshot(time [ms since the
epoch], rss [bytes], heap [bytes tracked by memray]). The snapshots are streamed into bounded
memory. `rss` is the process's RSS (memray's own overhead included); `heap` is kept as the
`heap` series (`--metric heap`). Capture files are binary and usually lz4-compressed; a file
cut short is refused by memray when compressed (it says so), read up to the cut otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, BinaryIO

import numpy as np

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS, SampleAccumulator
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.importers.common import iso_utc
from memdoctor.traces.model import Trace

MAGIC = b"memray\x00"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
CHUNK = 50_000


def looks_like_memray(head: bytes) -> bool:
    """An uncompressed capture starts with b"memray\\0"; a compressed one is an lz4 frame whose
    first literal bytes are that magic."""
    return head.startswith(MAGIC) or (head.startswith(LZ4_MAGIC) and b"memray" in head[:64])


def _path_of(stream: BinaryIO) -> tuple[str, bool]:
    """A path memray can open: the stream's own file, or a private copy (stdin)."""
    name = getattr(stream, "name", None)
    if isinstance(name, str) and os.path.isfile(name):
        return name, False
    fd, path = tempfile.mkstemp(prefix="memdoctor-memray-", suffix=".bin")
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(stream, out)
    return path, True


def read_memray(stream: BinaryIO, source: str = "", max_points: int = DEFAULT_MAX_POINTS) -> Trace:
    """The memory-over-time series recorded in a memray capture file."""
    try:
        import memray
    except ImportError:
        raise TraceReadError("reading memray capture files needs memray: pip install 'memdoctor[memray]'") from None
    path, temporary = _path_of(stream)
    try:
        try:
            reader = memray.FileReader(path)
        except OSError as exc:
            reason = str(exc).split(":")[0].strip() or "unreadable"
            raise TraceReadError(f"{source or path}: memray cannot read it ({reason}); a compressed capture cut "
                                 "short cannot be read") from None
        try:
            acc = SampleAccumulator(("heap",), max_points=max_points)
            t_buf: list[float] = []
            m_buf: list[float] = []
            h_buf: list[float] = []
            for snap in reader.get_memory_snapshots():
                t_buf.append(snap.time / 1000.0)
                m_buf.append(float(snap.rss))
                h_buf.append(float(snap.heap))
                if len(t_buf) >= CHUNK:
                    acc.add(np.asarray(t_buf), np.asarray(m_buf), {"heap": np.asarray(h_buf)})
                    t_buf.clear()
                    m_buf.clear()
                    h_buf.clear()
            acc.add(np.asarray(t_buf), np.asarray(m_buf), {"heap": np.asarray(h_buf)})
            header = _header(reader.metadata)
        finally:
            reader.close()
    finally:
        if temporary:
            os.unlink(path)
    t, rss, series = acc.arrays()
    if len(t) == 0:
        raise TraceReadError(f"{source or 'input'}: the memray capture has no memory sample")
    t0 = float(t[0])
    header.setdefault("started_at", iso_utc(t0))
    trace = Trace(t=t - t0, rss=rss, header=header, series=series, source=source, samples_read=acc.rows_read)
    if acc.thinned:
        trace.warnings.append(f"{acc.rows_read} samples thinned to {len(t)} (per-bucket min and max kept)")
    return trace


def _header(meta: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"source": "memray", "runtime": "python"}
    pid = getattr(meta, "pid", None)
    if isinstance(pid, int):
        header["pid"] = pid
    command = getattr(meta, "command_line", None)
    if isinstance(command, str):
        header["cmdline"] = command.split()
    return header
