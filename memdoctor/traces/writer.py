"""Trace writers: JSON Lines (the contract) and CSV, one line per sample, flushed each time.

Each line goes out in a single os.write() on an unbuffered descriptor, so a `kill -9` of
memdoctor or of the target leaves a file readable up to its last complete line. Files are
created with mode 0600: a trace names the command line of a production process, and that command
line is written with the values that look like secrets redacted (memdoctor/redact.py).
"""

from __future__ import annotations

import errno
import json
import os
import stat
from typing import Any, Protocol

from memdoctor.errors import MemdoctorError
from memdoctor.output_files import OutputPathError, open_output
from memdoctor.redact import redact_header
from memdoctor.traces.recording_lock import hold


class TraceWriteError(MemdoctorError, OSError):
    """The trace could not be written (disk full, read-only, not a file...)."""

    def __str__(self) -> str:
        return str(self.strerror or super().__str__())


def _open_for_write(path: str) -> int:
    """The checked descriptor (memdoctor/output_files.py), not truncated yet: an older trace of that name
    is kept until this recording writes its first line (a command that cannot start records nothing)."""
    try:
        return open_output(path, truncate=False)
    except OutputPathError as exc:
        raise TraceWriteError(exc.errno, f"cannot write trace to {exc.path}: {exc.reason}") from None


# A trace's times are written in microseconds (6 decimals): finer than any clock tick a sample is taken on.
T_DECIMALS = 6


def as_written(t: float) -> float:
    """A time as a trace holds it once written and read back: the recorder judges these, so that a live verdict
    and `analyze` of the trace it wrote see the same numbers to the last bit (a floor test's slope of two equal
    floor points came out +6e-21 from the trace and -8e-21 live, and the two printed different growths)."""
    return round(t, T_DECIMALS)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(round(value, T_DECIMALS))
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


class TraceWriter(Protocol):
    path: str

    def write_header(self, header: dict[str, Any]) -> None: ...
    def write_sample(self, sample: dict[str, Any]) -> None: ...
    def template(self, fields: tuple[str, ...]) -> bytes | None: ...
    def write_bytes(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class _LineWriter:
    """Writes whole lines with one os.write each; remembers the first failure."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = _open_for_write(path)
        hold(self._fd)  # while it records: analyze of this file says so (traces/recording_lock.py)
        self.lines = 0
        self._offset = 0  # end of the last complete line
        self.failed: str | None = None  # the first write failure: nothing more is written after it

    def _write_line(self, line: str) -> None:
        self.write_bytes((line + "\n").encode())

    def template(self, fields: tuple[str, ...]) -> bytes | None:
        """A bytes %-template for a sample of (t, rss, *fields), all integers but t; None if unsupported."""
        return None

    def write_bytes(self, data: bytes) -> None:
        """Write whole lines (already encoded, each ending in a newline) with one write()."""
        if self._fd is None or self.failed is not None:
            return
        try:
            if not self._offset and not self.lines and stat.S_ISREG(os.fstat(self._fd).st_mode):
                os.ftruncate(self._fd, 0)  # the first line: only now is an older file of this name replaced
            written = os.write(self._fd, data)
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            # A full disk may have taken half a line: cut back to the last whole one.
            try:
                os.ftruncate(self._fd, self._offset)
            except OSError:
                pass
            reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
            message = f"stopped writing {self.path}: {reason}; what was written is kept"
            self.failed = message
            raise TraceWriteError(exc.errno, message) from None
        self._offset += len(data)
        self.lines += data.count(b"\n")

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None


class JsonlTraceWriter(_LineWriter):
    """The memdoctor trace format: a header object, then one sample object per line."""

    def template(self, fields: tuple[str, ...]) -> bytes | None:
        keys = b"".join(b',"' + f.encode() + b'":%d' for f in fields)
        # %.<T_DECIMALS>f prints the decimal as_written rounds to: both round the float's exact value (2,000,000
        # random floats, near-half-way ones included: float("%.6f" % x) == round(x, 6) for all).
        return b'{"t":%.' + str(T_DECIMALS).encode() + b'f,"rss":%d' + keys + b"}\n"

    def write_header(self, header: dict[str, Any]) -> None:
        self._write_line(json.dumps({"memdoctor_trace": 1, **redact_header(header)}, separators=(",", ":")))

    def write_sample(self, sample: dict[str, Any]) -> None:
        # Hand-formatted: json.dumps costs several times more per sample at 100 Hz.
        self._write_line("{" + ",".join(f'"{k}":{_format_value(v)}' for k, v in sample.items()) + "}")


class CsvTraceWriter(_LineWriter):
    """CSV in the generic import format: t, rss_bytes, then the other keys."""

    COLUMNS = ("t", "rss", "rss_root", "procs", "uss", "pss", "swap", "fds", "threads", "heap", "usage", "cache",
               "anon", "kernel", "event")
    HEADER = ("t", "rss_bytes", "rss_root_bytes", "procs", "uss_bytes", "pss_bytes", "swap_bytes", "fds", "threads",
              "heap_bytes", "usage_bytes", "cache_bytes", "anon_bytes", "kernel_bytes", "event")

    def write_header(self, header: dict[str, Any]) -> None:
        # CSV has no place for metadata: keep it in a comment line the reader skips.
        self._write_line("# memdoctor_trace " + json.dumps({"memdoctor_trace": 1, **redact_header(header)},
                                                             separators=(",", ":")))
        self._write_line(",".join(self.HEADER))

    def write_sample(self, sample: dict[str, Any]) -> None:
        cells = []
        for key in self.COLUMNS:
            value = sample.get(key)
            cells.append("" if value is None else (str(value) if key == "event" else _format_value(value)))
        self._write_line(",".join(cells))


def open_trace_writer(path: str) -> JsonlTraceWriter | CsvTraceWriter:
    """A writer chosen by the file name: `.csv` writes CSV, anything else JSON Lines."""
    if path.lower().endswith((".csv", ".tsv")):
        return CsvTraceWriter(path)
    return JsonlTraceWriter(path)
