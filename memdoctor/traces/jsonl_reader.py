"""Reader of the memdoctor trace format (JSON Lines; the contract in docs/architecture.md).

Line 1 is a header with "memdoctor_trace": 1; each further line is a sample {"t", "rss", ...}.
The file may have been cut by a crash or a `kill -9`: a partial last line is skipped with a
warning; other unreadable lines are skipped and counted. Unknown keys are ignored.
"""

from __future__ import annotations

import json
import math
from typing import Any, BinaryIO

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS, SampleAccumulator
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.model import MAX_MEMORY_BYTES, SERIES_KEYS, Trace

CHUNK = 50_000
# The longest line a trace may hold. A sample line is ~100 bytes; the header holds the command
# line, at most Linux's ARG_MAX (2 MiB) of arguments, which JSON escaping can at most triple
# (\u00XX for a control byte is 6 bytes for 1, but those are rare). A 1 GB line took 3.2 GB of
# RSS to read whole: longer than this is not a memdoctor trace, refused with one line.
MAX_LINE_BYTES = 8 << 20
_OPTIONAL = tuple(k for k in SERIES_KEYS if k != "rss")
CUT_OFF = "the last line was cut off (recording interrupted?) and was skipped"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def read_jsonl_trace(stream: BinaryIO, source: str = "", max_points: int = DEFAULT_MAX_POINTS) -> Trace:
    """Read a memdoctor JSONL trace from a text stream, in bounded memory."""
    header: dict[str, Any] = {}
    acc = SampleAccumulator(_OPTIONAL, max_points=max_points)
    events: list[tuple[float, str]] = []
    warnings: list[str] = []
    skipped = 0
    first = True
    t_buf: list[float] = []
    m_buf: list[float] = []
    s_buf: dict[str, list[float]] = {k: [] for k in _OPTIONAL}
    seen_optional: set[str] = set()
    pending_bad: bytes | None = None  # the last unreadable line, judged once we know if it was the last

    def flush() -> None:
        acc.add(t_buf, m_buf, {k: v for k, v in s_buf.items() if k in seen_optional})
        t_buf.clear()
        m_buf.clear()
        for values in s_buf.values():
            values.clear()

    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            break
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise TraceReadError(f"{source or 'input'}: line {number} is longer than {MAX_LINE_BYTES} bytes, the cap "
                                 "on one trace line (MAX_LINE_BYTES): not a memdoctor trace, or a corrupt one")
        if not line.strip():
            continue
        if pending_bad is not None:
            skipped += 1
            pending_bad = None
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            pending_bad = line
            continue
        if not isinstance(obj, dict):
            skipped += 1
            continue
        if first:
            first = False
            if "memdoctor_trace" in obj:
                header = obj
                continue
        if "memdoctor_trace" in obj:
            # A second header: a restarted recording appended to the same file.
            events.append((_number(obj.get("t")) or (t_buf[-1] if t_buf else 0.0), "restart"))
            continue
        t_at = _number(obj.get("t"))
        rss_at = _number(obj.get("rss"))
        event = obj.get("event")
        if isinstance(event, str) and t_at is not None:
            events.append((t_at, event))
        if t_at is None or rss_at is None or not 0 <= rss_at <= MAX_MEMORY_BYTES:
            if not (isinstance(event, str) and rss_at is None):
                skipped += 1
            continue
        t_buf.append(t_at)
        m_buf.append(rss_at)
        for key in _OPTIONAL:
            value = _number(obj.get(key))
            if value is not None:
                seen_optional.add(key)
            s_buf[key].append(math.nan if value is None else value)
        if len(t_buf) >= CHUNK:
            flush()
    if pending_bad is not None:
        if pending_bad.endswith(b"\n"):
            skipped += 1
        else:
            warnings.append(CUT_OFF)
    flush()
    t, rss, series = acc.arrays()
    if first and not t_buf and len(t) == 0 and not header:
        raise TraceReadError(f"{source or 'input'} is empty")
    if len(t) == 0:
        raise TraceReadError(f"{source or 'input'} has no usable sample ({skipped} unreadable lines)")
    trace = Trace(
        t=t,
        rss=rss,
        header=header,
        series={k: v for k, v in series.items() if k in seen_optional},
        events=events,
        skipped_rows=skipped,
        source=source,
        warnings=warnings,
        samples_read=acc.rows_read,
    )
    if acc.thinned:
        trace.warnings.append(f"{acc.rows_read} samples thinned to {len(t)} (per-bucket min and max kept)")
    return trace
