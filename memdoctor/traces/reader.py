"""Open any supported trace file: detect the format by content, then hand it to its reader.

Formats register here one per module (memdoctor JSONL, generic CSV/TSV, and the importers of
other tools' recordings in memdoctor/traces/importers/). Detection looks at the first bytes,
not the name, and `--format` overrides it.

A reader returns one Trace, or a list of Traces when its input holds several series (a
Prometheus matrix, one container each in `docker stats`, one process each in mprof's
per-child view). `read_traces` always gives the list (each trace named in `header["name"]`
when there are several); `read_trace` gives the first series, as it always did.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import BinaryIO

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS
from memdoctor.traces.csv_reader import read_csv_trace
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.importers.docker_stats import looks_like_docker_stats, read_docker_stats
from memdoctor.traces.importers.memray_capture import looks_like_memray, read_memray
from memdoctor.traces.importers.mprof import looks_like_mprof, read_mprof, read_mprof_children
from memdoctor.traces.importers.node_memory_usage import looks_like_node_memory, read_node_memory
from memdoctor.traces.importers.prometheus_json import looks_like_prometheus, read_prometheus
from memdoctor.traces.importers.psrecord import looks_like_psrecord, read_psrecord
from memdoctor.traces.jsonl_reader import CUT_OFF, read_jsonl_trace
from memdoctor.traces.model import Trace
from memdoctor.traces.recording_lock import STILL_RECORDING, still_recording

Reader = Callable[..., "Trace | list[Trace]"]

READERS: dict[str, Reader] = {
    "jsonl": read_jsonl_trace,
    "csv": read_csv_trace,
    "mprof": read_mprof,
    "mprof-children": read_mprof_children,
    "psrecord": read_psrecord,
    "memray": read_memray,
    "docker-stats": read_docker_stats,
    "node-memory": read_node_memory,
    "prometheus": read_prometheus,
}
# Readers of inputs without timestamps, which take the time between samples (--interval).
TIMELESS = frozenset({"docker-stats", "node-memory"})

SNIFF_BYTES = 4096


def detect_format(head: str | bytes) -> str | None:
    """The format of a file from its first few KB (text, or the raw bytes), or None when nothing fits."""
    if isinstance(head, bytes):
        if looks_like_memray(head):
            return "memray"
        if b"\x00" in head:
            return None
        head = head.decode("utf-8", "replace")
    text = head.lstrip("\ufeff \t\r\n")
    if not text:
        return None
    if text.startswith(("{", "\x1b")):
        first_line = text.split("\n", 1)[0]
        if '"memdoctor_trace"' in first_line:
            return "jsonl"
        for fmt, looks_like in (("prometheus", looks_like_prometheus), ("docker-stats", looks_like_docker_stats),
                                ("node-memory", looks_like_node_memory)):
            if looks_like(text):
                return fmt
        return "jsonl" if text.startswith("{") else None
    if text.startswith("# memdoctor_trace"):
        return "csv"
    if looks_like_psrecord(text):
        return "psrecord"
    if looks_like_mprof(text):
        return "mprof"
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if any(sep in first for sep in (",", "\t", ";")) and any(ch.isalpha() for ch in first):
        return "csv"
    return None


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        # stdin cannot be rewound after sniffing: spool it to a temporary file (bounded memory).
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - returned open, closed by read_trace
        shutil.copyfileobj(sys.stdin.buffer, spool)
        spool.seek(0)
        return spool
    if os.path.isdir(path):
        raise TraceReadError(f"{path} is a directory, not a trace file")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise TraceReadError(f"{path}: no such file") from None
    except OSError as exc:
        raise TraceReadError(f"cannot open {path}: {exc.strerror}") from None


def read_traces(path: str, fmt: str | None = None, max_points: int = DEFAULT_MAX_POINTS,
                interval_s: float | None = None) -> list[Trace]:
    """Every series in `path` ("-" for stdin), auto-detecting its format unless `fmt` is given.

    `interval_s` is the time between samples for inputs that have no timestamps (docker stats
    lines, Node memoryUsage lines without a time key).
    """
    if fmt is not None and fmt not in READERS:
        raise TraceReadError(f"unknown format {fmt!r}: use one of {', '.join(READERS)}")
    with _open_binary(path) as stream:
        recording = still_recording(stream.fileno())
        head_bytes = stream.read(SNIFF_BYTES)
        chosen = fmt or detect_format(head_bytes)
        if chosen is None:
            if b"\x00" in head_bytes:
                raise TraceReadError(f"{path} is binary, not a trace (tried formats: {', '.join(READERS)})")
            if not head_bytes.decode("utf-8", "replace").strip():
                raise TraceReadError(f"{path} is empty")
            raise TraceReadError(f"{path}: format not recognised (tried: {', '.join(READERS)}); use --format")
        if chosen != "memray" and b"\x00" in head_bytes:
            raise TraceReadError(f"{path} is binary, not a {chosen} file (tried formats: {', '.join(READERS)})")
        stream.seek(0)
        options = {"interval_s": interval_s} if interval_s is not None and chosen in TIMELESS else {}
        try:
            result = READERS[chosen](stream, source=path, max_points=max_points, **options)
        except UnicodeDecodeError:
            raise TraceReadError(f"{path}: not text in the {chosen} format") from None
    traces = result if isinstance(result, list) else [result]
    if recording:
        for trace in traces:
            # Its last line may be the one being written: not a recording cut off.
            trace.warnings[:] = [STILL_RECORDING, *(w for w in trace.warnings if w != CUT_OFF)]
    return traces


def read_trace(path: str, fmt: str | None = None, max_points: int = DEFAULT_MAX_POINTS,
               interval_s: float | None = None) -> Trace:
    """Read a trace from `path` ("-" for stdin), auto-detecting its format unless `fmt` is given.

    For an input with several series, the first one (`read_traces` gives them all).
    """
    traces = read_traces(path, fmt, max_points, interval_s=interval_s)
    first = traces[0]
    if len(traces) > 1:
        first.warnings.append(f"{len(traces)} series in the input: only the first "
                              f"({first.header.get('name', '?')}) was read")
    return first
