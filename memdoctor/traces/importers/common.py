"""What the importers share: timestamps, JSON lines, and a bounded set of named series.

- `to_seconds` reads a time written as unix seconds/milliseconds/micro/nanoseconds, seconds
  since the start, or ISO-8601; `TimeScale` picks the unit once per file, from its first value.
- `iter_json_lines` streams a JSON Lines input: unreadable lines are counted, a cut-off last
  line (a recording killed mid-write) becomes a warning, as in the memdoctor JSONL reader.
- `SeriesSet` collects samples for any number of named series, each through its own
  SampleAccumulator (bounded memory), and turns them into Traces with times since each
  series' own start.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO

import numpy as np

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS, SampleAccumulator
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.model import Trace

CHUNK = 20_000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences (`docker stats` clears the screen between rounds)."""
    return _ANSI.sub("", text)


def iso_to_seconds(text: str) -> float | None:
    """Unix seconds of an ISO-8601 time (UTC when it names no zone), or None."""
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def iso_utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TimeScale:
    """Seconds from numbers whose unit (s, ms, us, ns since the epoch) is judged on the first one."""

    def __init__(self) -> None:
        self.factor: float | None = None

    def __call__(self, value: Any) -> float | None:
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return iso_to_seconds(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            return None
        if not math.isfinite(number):
            return None
        if self.factor is None:
            magnitude = abs(number)
            self.factor = 1e-9 if magnitude > 1e17 else 1e-6 if magnitude > 1e14 else 1e-3 if magnitude > 1e11 else 1.0
        return number * self.factor


def number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric string, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class LineStats:
    """Unreadable lines, and whether the last one was cut off."""

    def __init__(self) -> None:
        self.skipped = 0
        self.warnings: list[str] = []


def iter_json_lines(stream: BinaryIO, stats: LineStats) -> Iterator[Any]:
    """Parsed JSON values, one per non-empty line; bad lines counted in `stats`."""
    pending: bytes | None = None
    for raw in stream:
        line = raw.strip()
        if not line:
            continue
        if pending is not None:
            stats.skipped += 1
            pending = None
        text = strip_ansi(line.decode("utf-8", "replace")).strip()
        if not text:
            continue
        try:
            yield json.loads(text)
        except (ValueError, RecursionError):
            pending = raw
    if pending is not None:
        if pending.endswith(b"\n"):
            stats.skipped += 1
        else:
            stats.warnings.append("the last line was cut off (recording interrupted?) and was skipped")


class _Builder:
    __slots__ = ("acc", "extra", "header", "m", "series_keys", "t")

    def __init__(self, series_keys: tuple[str, ...], max_points: int, header: dict[str, Any]) -> None:
        self.series_keys = series_keys
        self.acc = SampleAccumulator(series_keys, max_points=max_points)
        self.t: list[float] = []
        self.m: list[float] = []
        self.extra: dict[str, list[float]] = {k: [] for k in series_keys}
        self.header = header

    def flush(self) -> None:
        if self.t:
            self.acc.add(np.asarray(self.t), np.asarray(self.m),
                         {k: np.asarray(v) for k, v in self.extra.items()})
            self.t.clear()
            self.m.clear()
            for values in self.extra.values():
                values.clear()


class SeriesSet:
    """Samples of several named series, each kept in bounded memory, in first-seen order."""

    def __init__(self, series_keys: tuple[str, ...] = (), max_points: int = DEFAULT_MAX_POINTS) -> None:
        self.series_keys = series_keys
        self.max_points = max_points
        self._builders: dict[str, _Builder] = {}

    def __len__(self) -> int:
        return len(self._builders)

    def header(self, name: str) -> dict[str, Any]:
        """The header of series `name` (created empty on first use): importers put metadata there."""
        return self._get(name).header

    def _get(self, name: str) -> _Builder:
        builder = self._builders.get(name)
        if builder is None:
            builder = self._builders[name] = _Builder(self.series_keys, self.max_points, {})
        return builder

    def add(self, name: str, t: float, value: float, extra: Mapping[str, float | None] | None = None) -> None:
        builder = self._get(name)
        builder.t.append(t)
        builder.m.append(value)
        for key in self.series_keys:
            got = None if extra is None else extra.get(key)
            builder.extra[key].append(math.nan if got is None else got)
        if len(builder.t) >= CHUNK:
            builder.flush()

    def add_arrays(self, name: str, t: np.ndarray, values: np.ndarray) -> None:
        builder = self._get(name)
        builder.flush()
        builder.acc.add(t, values, None)

    def traces(self, source: str, *, fmt: str, skipped: int = 0, warnings: list[str] | None = None,
               absolute_time: bool = True) -> list[Trace]:
        """One Trace per series with samples, times since its start; an error when there is none."""
        out = []
        for name, builder in self._builders.items():
            builder.flush()
            t, mem, extra = builder.acc.arrays()
            if len(t) == 0:
                continue
            order = np.argsort(t, kind="stable")
            if (order != np.arange(len(t))).any():
                t, mem = t[order], mem[order]
                extra = {k: v[order] for k, v in extra.items()}
            header = {"source": fmt, "name": name, **builder.header}
            t0 = float(t[0])
            if absolute_time and t0 > 1e8:
                header.setdefault("started_at", iso_utc(t0))
            trace = Trace(t=t - t0, rss=mem, header=header,
                          series={k: v for k, v in extra.items() if np.isfinite(v).any()},
                          skipped_rows=skipped, source=source, warnings=list(warnings or []),
                          samples_read=builder.acc.rows_read)
            if builder.acc.thinned:
                trace.warnings.append(f"{builder.acc.rows_read} samples thinned to {len(t)} "
                                      "(per-bucket min and max kept)")
            out.append(trace)
        if not out:
            raise TraceReadError(f"{source or 'input'} has no usable sample ({skipped} unreadable rows)")
        return out


def no_timestamps_warning(interval_s: float) -> str:
    return (f"the input has no timestamps: samples taken {interval_s:g}s apart (--interval); growth rates and "
            "times scale with it")


class JsonValueStream:
    """JSON values read one after another from a stream of text that may be large.

    `next_value()` decodes the next value (skipping whitespace and the separators given to
    it) with json's C scanner, reading more text only when the value is incomplete; text
    already decoded is dropped, so memory is bounded by the largest single value. Used for
    pretty-printed or concatenated JSON objects and for the elements of a Prometheus result
    array (one series at a time).
    """

    READ = 1 << 20
    MAX_VALUE = 1 << 30  # one value larger than this is refused rather than read into memory

    def __init__(self, stream: BinaryIO, initial: str = "") -> None:
        import codecs

        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._json = json.JSONDecoder()
        self.buf = initial
        self.pos = 0
        self.eof = False

    def read_more(self, at_least: int = READ) -> bool:
        if self.eof:
            return False
        data = self._stream.read(max(self.READ, at_least))
        if not data:
            self.eof = True
            self.buf = self.buf[self.pos:] + self._decoder.decode(b"", final=True)
            self.pos = 0
            return False
        self.buf = self.buf[self.pos:] + self._decoder.decode(data)
        self.pos = 0
        return True

    def skip(self, chars: str = " \t\r\n") -> str:
        """Skip `chars`; the next character ("" at the end of the input)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in chars:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.read_more():
                return ""

    def next_value(self) -> Any:
        """The next JSON value; raises EOFError at the end, ValueError when the input is cut or bad."""
        if not self.skip():
            raise EOFError
        while True:
            try:
                value, end = self._json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise ValueError(f"cut off or not JSON ({exc.msg})") from None
                if len(self.buf) - self.pos > self.MAX_VALUE:
                    raise ValueError("one JSON value is larger than 1 GiB") from None
                self.read_more(len(self.buf) - self.pos)  # grow geometrically: linear total work
                continue
            self.pos = end
            return value
