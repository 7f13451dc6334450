"""Open any supported trace file: detect the format by content, then hand it to its reader.

Formats register here one per module (memdoctor JSONL, generic CSV/TSV; importers of other
tools' recordings join the same table). Detection looks at the first bytes, not the name, and
`--format` overrides it.
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
from memdoctor.traces.jsonl_reader import read_jsonl_trace
from memdoctor.traces.model import Trace

Reader = Callable[..., Trace]

READERS: dict[str, Reader] = {
    "jsonl": read_jsonl_trace,
    "csv": read_csv_trace,
}

SNIFF_BYTES = 4096


def detect_format(head: str) -> str | None:
    """The format of a file from its first few KB of text, or None when nothing fits."""
    text = head.lstrip("\ufeff \t\r\n")
    if not text:
        return None
    if text.startswith("{"):
        return "jsonl"
    if text.startswith("# memdoctor_trace"):
        return "csv"
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
        return spool  # type: ignore[return-value]
    if os.path.isdir(path):
        raise TraceReadError(f"{path} is a directory, not a trace file")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise TraceReadError(f"{path}: no such file") from None
    except OSError as exc:
        raise TraceReadError(f"cannot open {path}: {exc.strerror}") from None


def read_trace(path: str, fmt: str | None = None, max_points: int = DEFAULT_MAX_POINTS) -> Trace:
    """Read a trace from `path` ("-" for stdin), auto-detecting its format unless `fmt` is given."""
    if fmt is not None and fmt not in READERS:
        raise TraceReadError(f"unknown format {fmt!r}: use one of {', '.join(READERS)}")
    with _open_binary(path) as stream:
        head_bytes = stream.read(SNIFF_BYTES)
        if b"\x00" in head_bytes:
            raise TraceReadError(f"{path} is binary, not a trace (tried formats: {', '.join(READERS)})")
        head = head_bytes.decode("utf-8", "replace")
        chosen = fmt or detect_format(head)
        if chosen is None:
            if not head.strip():
                raise TraceReadError(f"{path} is empty")
            raise TraceReadError(f"{path}: format not recognised (tried: {', '.join(READERS)}); use --format")
        stream.seek(0)
        return READERS[chosen](stream, source=path, max_points=max_points)
