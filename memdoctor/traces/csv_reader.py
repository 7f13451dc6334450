"""Generic CSV/TSV memory trace reader (the import contract of docs/architecture.md).

A header row names a time column (timestamp/time/t/elapsed..., as unix seconds or
milliseconds, seconds since start, or ISO-8601) and a memory column (rss_bytes, rss, memory,
mem_mb...; the unit comes from the column suffix _bytes/_kb/_mb/_gb or from a unit written on
the value). Count columns (fds, threads) are kept. Rows that cannot be read are skipped and
counted.

Speed: data is read in chunks of lines; a chunk of plain numbers goes through numpy's C
parser (np.loadtxt), integer columns as int64 (about 4x faster to parse than float64: the
whole read of 1M rows went from ~0.8 to ~0.43 s of CPU); a chunk with anything else (units on
values, ISO dates, junk) falls back to a row-by-row parse of that chunk only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import numpy as np

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS, SampleAccumulator
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.model import MAX_MEMORY_BYTES, Trace
from memdoctor.units import UnitError, parse_size

BLOCK_BYTES = 4 << 20

TIME_NAMES = ("timestamp", "time", "t", "elapsed", "ts", "datetime", "date", "seconds", "time_s", "elapsed_s",
              "timestamp_s", "unix_time", "epoch", "elapsed_time", "time_sec", "sec")
# Memory columns, best first; matched on the name with its unit suffix removed.
MEMORY_NAMES = ("rss", "rss_total", "memory_rss", "resident", "working_set", "memory_working_set", "memory",
                "mem", "memory_usage", "mem_usage", "usage", "used", "real", "value", "bytes")
# Optional series: sizes (with a unit) and counts (without).
SIZE_SERIES = {"rss_root": "rss_root", "uss": "uss", "pss": "pss", "swap": "swap", "heap": "heap",
               "heap_used": "heap", "heapused": "heap",
               # a cgroup's series (watch --cgroup): "usage" is also a memory column's name, taken as such
               # when no better one is there (map_columns skips the memory column here)
               "usage": "usage", "cache": "cache", "anon": "anon", "kernel": "kernel"}
COUNT_SERIES = {"fds": "fds", "num_fds": "fds", "open_fds": "fds", "open_files": "fds", "threads": "threads",
                "num_threads": "threads", "nthreads": "threads", "procs": "procs", "processes": "procs"}
SERIES_KEYS = ("rss_root", "uss", "pss", "swap", "heap", "fds", "threads", "procs", "usage", "cache", "anon", "kernel")

_UNIT_SUFFIX = re.compile(r"^(?P<base>.*?)[\s_\-]*(?:\((?P<paren>[a-z]+)\)|(?P<suffix>bytes|b|kb|kib|mb|mib|gb|gib))$")
_TIME_SUFFIX = re.compile(r"^(?P<base>[a-z_]+?)_*(?:\((?P<p>ms|s|sec|secs|seconds)\)|(?P<s>ms|s|sec|secs|seconds))$")
_TIME_FACTORS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "secs": 1.0, "seconds": 1.0}
_UNIT_FACTORS = {"bytes": 1, "b": 1, "kb": 1024, "kib": 1024, "mb": 1024**2, "mib": 1024**2, "gb": 1024**3,
                 "gib": 1024**3}


@dataclass
class Column:
    index: int
    key: str  # "t", "rss", or a SERIES_KEYS entry
    factor: float = 1.0  # bytes per unit written in the column


def _normalise(name: str) -> tuple[str, float | None]:
    """'Mem_MB' -> ('mem', 1048576); 'rss_bytes' -> ('rss', 1); 'fds' -> ('fds', None)."""
    clean = name.strip().strip('"').strip().lower()
    match = _UNIT_SUFFIX.match(clean)
    if match:
        unit = match.group("paren") or match.group("suffix")
        if unit in _UNIT_FACTORS and match.group("base"):
            base = re.sub(r"[\s\-]+", "_", match.group("base").strip(" _-"))
            return base, float(_UNIT_FACTORS[unit])
    return re.sub(r"[\s\-]+", "_", clean), None


def _time_column(header: list[str]) -> Column | None:
    """The time column: an exact name first, then a name with a unit ("Time (s)", "timestamp_ms")."""
    cleaned = [re.sub(r"[\s\-]+", "_", h.strip().strip('"').strip().lower()) for h in header]
    for candidate in TIME_NAMES:
        if candidate in cleaned:
            return Column(cleaned.index(candidate), "t")
    for i, name in enumerate(cleaned):
        match = _TIME_SUFFIX.match(name)
        if match and match.group("base") in TIME_NAMES:
            unit = match.group("p") or match.group("s")
            return Column(i, "t", _TIME_FACTORS[unit])
    return None


def map_columns(header: list[str]) -> tuple[Column, Column, list[Column]]:
    """Pick the time column, the memory column and the optional series from a header row."""
    names = [_normalise(h) for h in header]
    time_col = _time_column(header)
    mem_col = None
    for candidate in MEMORY_NAMES:
        for i, (base, factor) in enumerate(names):
            if base == candidate or base == candidate + "_bytes":
                mem_col = Column(i, "rss", factor or 1.0)
                break
        if mem_col:
            break
    if time_col is None or mem_col is None:
        missing = "time" if time_col is None else "memory"
        raise TraceReadError(
            f"CSV header has no {missing} column (columns: {', '.join(h.strip() for h in header)[:200]}); "
            "expected e.g. timestamp/time/t and rss_bytes/rss/memory/mem_mb"
        )
    extras = []
    for i, (base, factor) in enumerate(names):
        if i in (time_col.index, mem_col.index):
            continue
        if base in SIZE_SERIES:
            extras.append(Column(i, SIZE_SERIES[base], factor or 1.0))
        elif base in COUNT_SERIES:
            extras.append(Column(i, COUNT_SERIES[base], 1.0))
    return time_col, mem_col, extras


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return " "
    return best


def _parse_time(cell: str) -> float:
    text = cell.strip().strip('"')
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"unreadable time {text!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _parse_amount(cell: str, factor: float) -> float:
    text = cell.strip().strip('"')
    try:
        return float(text) * factor
    except ValueError:
        # A unit written on the value ("123MB", "1.5 GiB") wins over the column's unit.
        try:
            return float(parse_size(text))
        except UnitError:
            raise ValueError(f"unreadable amount {text!r}") from None


def _slow_chunk(lines: list[str], delimiter: str, cols: list[Column]) -> tuple[np.ndarray, int]:
    """Parse rows one by one; returns (values shaped (len(cols), k), rows skipped)."""
    out = []
    skipped = 0
    width = max(c.index for c in cols) + 1
    rows = (ln.split() for ln in lines) if delimiter == " " else csv.reader(lines, delimiter=delimiter,
                                                                             skipinitialspace=True)
    for row in rows:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) < width:
            skipped += 1
            continue
        try:
            values = [_parse_time(row[c.index]) * c.factor if c.key == "t" else
                      (_parse_amount(row[c.index], c.factor) if row[c.index].strip() else math.nan)
                      for c in cols]
        except ValueError:
            skipped += 1
            continue
        if not (math.isfinite(values[0]) and 0 <= values[1] <= MAX_MEMORY_BYTES):
            skipped += 1
            continue
        out.append(values)
    if not out:
        return np.empty((len(cols), 0)), skipped
    return np.asarray(out, dtype=float).T, skipped


_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


def _column_types(block: bytes, delimiter: str, cols: list[Column]) -> list[str] | None:
    """int64 or float64 per column, from the block's first data row: numpy's C parser reads an
    integer column about 4x faster as int64 than as float64 (the memory and count columns of a
    sampler's CSV are integers; only the time has a fraction). None when no row says."""
    for raw in block.split(b"\n", 8)[:8]:
        line = raw.decode("utf-8", "replace").strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split() if delimiter == " " else line.split(delimiter)
        if len(fields) <= max(c.index for c in cols):
            return None
        return ["i8" if _INTEGER.match(fields[c.index]) else "f8" for c in cols]
    return None


def _fast_block(block: bytes, delimiter: str, cols: list[Column]) -> np.ndarray | None:
    """Parse a block of plain-number rows with numpy's C parser; None if any row is not plain.

    Integer columns (as the first row shows them) are read as int64 in the same pass; if a later
    row does not fit (a fraction, a blank), the block is read again with every column float64."""
    usecols = [c.index for c in cols]
    types = _column_types(block, delimiter, cols)
    data = None
    if types is not None and "i8" in types:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data": a block of comments only
                table = np.loadtxt(io.BytesIO(block), delimiter=None if delimiter == " " else delimiter,
                                   usecols=usecols, ndmin=1, comments="#",
                                   dtype=np.dtype([(f"c{i}", kind) for i, kind in enumerate(types)]))
            data = np.empty((len(cols), table.shape[0]), dtype=float)
            for i in range(len(cols)):
                data[i] = table[f"c{i}"]
        except (ValueError, IndexError, OverflowError):
            data = None
    if data is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data": a block of comments only
                data = np.loadtxt(io.BytesIO(block), delimiter=None if delimiter == " " else delimiter,
                                  usecols=usecols, ndmin=2, dtype=float, comments="#")
        except (ValueError, IndexError):
            return None
        data = data.T
    if data.shape[0] != len(cols):
        return None
    with np.errstate(over="ignore"):  # 1e308 MB overflows to inf: caught below, row by row in the slow path
        for i, col in enumerate(cols):
            if col.factor != 1.0:
                data[i] *= col.factor
    # Checked after the unit factor: a value finite in its unit can be infinite in bytes.
    if not (np.isfinite(data[0]).all() and np.isfinite(data[1]).all()) or (data[1] < 0).any() \
            or (data[1] > MAX_MEMORY_BYTES).any():
        return None
    return data


def _blocks(stream: BinaryIO, size: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Blocks of whole lines, about `size` bytes each."""
    while True:
        block = stream.read(size)
        if not block:
            return
        if not block.endswith(b"\n"):
            block += stream.readline()
        yield block


def _split_events(lines: list[str], delimiter: str, time_col: int, mem_col: int,
                  event_col: int) -> tuple[list[tuple[float, str]], list[str]]:
    """(time as written, name) of the rows that carry an event, and the lines left for samples: all but the event
    rows with no memory value, which are no sample and no unparseable row."""
    rows = (ln.split() for ln in lines) if delimiter == " " else csv.reader(lines, delimiter=delimiter,
                                                                            skipinitialspace=True)
    events: list[tuple[float, str]] = []
    kept: list[str] = []
    for line, row in zip(lines, rows, strict=True):
        name = row[event_col].strip() if len(row) > event_col else ""
        if name and len(row) > time_col:
            with contextlib.suppress(ValueError):
                at = float(row[time_col])
                if math.isfinite(at):
                    events.append((at, name))
        if not (name and (len(row) <= mem_col or not row[mem_col].strip())):
            kept.append(line)
    return events, kept


def read_csv_trace(stream: BinaryIO, source: str = "", max_points: int = DEFAULT_MAX_POINTS) -> Trace:
    """Read a generic CSV/TSV memory trace from a binary stream, in bounded memory."""
    header_meta: dict[str, Any] = {}
    header_line = None
    for raw in iter(stream.readline, b""):
        stripped = raw.decode("utf-8", "replace").strip().lstrip("\ufeff")
        if not stripped:
            continue
        if stripped.startswith("#"):
            if stripped.startswith("# memdoctor_trace "):
                try:
                    header_meta = json.loads(stripped[len("# memdoctor_trace "):])
                except ValueError:
                    header_meta = {}
            continue
        header_line = stripped
        break
    if header_line is None:
        raise TraceReadError(f"{source or 'input'} is empty: no header row and no samples")
    delimiter = _sniff_delimiter(header_line)
    try:
        header = next(csv.reader([header_line], delimiter=delimiter, skipinitialspace=True))
    except csv.Error as exc:  # e.g. a carriage return inside the header row (found by test_fuzz)
        raise TraceReadError(f"{source or 'input'}: unreadable header row ({exc})") from None
    time_col, mem_col, extras = map_columns(header)
    cols = [time_col, mem_col, *extras]
    extra_keys = tuple(c.key for c in extras)
    acc = SampleAccumulator(tuple(dict.fromkeys(extra_keys)), max_points=max_points)
    skipped = 0
    # memdoctor's own CSV writes its events ("restart", "oom_kill", "heap_snapshot") in an `event` column of a row
    # with no memory: read as the JSON Lines reader reads them, not skipped as unparseable (doctor's heap_snapshot
    # was lost that way, and its report judged the snapshots' memory: a helper's review, 2026-12-08).
    event_col = next((i for i, name in enumerate(header) if name.strip().lower() == "event"), None)
    events: list[tuple[float, str]] = []
    for block in _blocks(stream):
        data = _fast_block(block, delimiter, cols)
        if data is None:
            lines = [ln for ln in block.decode("utf-8", "replace").splitlines()
                     if ln.strip() and not ln.lstrip().startswith("#")]
            if event_col is not None:
                found, lines = _split_events(lines, delimiter, time_col.index, mem_col.index, event_col)
                events.extend(found)
            data, bad = _slow_chunk(lines, delimiter, cols)
            skipped += bad
        if data.shape[1]:
            acc.add(data[0], data[1], {key: data[2 + i] for i, key in enumerate(extra_keys)})
    t, rss, series = acc.arrays()
    if len(t) == 0:
        raise TraceReadError(f"{source or 'input'} has no usable sample ({skipped} unreadable rows)")
    header_meta.setdefault("source", "csv")
    t0 = float(t[0])
    # Unix milliseconds (13 digits) or seconds (10 digits) become seconds since the start;
    # numbers outside the plausible range (1973-2106) are taken as they are.
    scale = 1.0
    if 1e11 < t0 < 1e14:
        scale = 1000.0
        t = t / scale
        t0 = float(t[0])
    if 1e8 < t0 < 4.2e9:
        header_meta.setdefault(
            "started_at", datetime.fromtimestamp(t0, tz=UTC).isoformat().replace("+00:00", "Z")
        )
    t = t - t0
    trace = Trace(t=t, rss=rss, header=header_meta, series={k: v for k, v in series.items() if np.isfinite(v).any()},
                  skipped_rows=skipped, source=source, samples_read=acc.rows_read,
                  events=[(at / scale - t0, name) for at, name in events])
    if acc.thinned:
        trace.warnings.append(f"{acc.rows_read} samples thinned to {len(t)} (per-bucket min and max kept)")
    return trace
