"""JSON lines of Node's `process.memoryUsage()`, as services log them:

    {"time": 1795463901123, "rss": 52248576, "heapTotal": 6500352, "heapUsed": 5139560,
     "external": 1407011, "arrayBuffers": 10515}

Sizes are bytes. The time comes from the first key present among t, time, timestamp, ts, date
(unix s or ms, or ISO-8601) or uptime/elapsed (seconds since the start); without one, lines are
taken `--interval` apart (1 s by default) and the evidence says so. The numbers may also sit one
level down, under "memoryUsage" or "memory".

One Trace per file: `rss` is the series analysed by default; heapUsed, heapTotal, external and
arrayBuffers are kept as the series `heap`, `heap_total`, `external`, `array_buffers`.
`header["metrics"]` lists rss, heap, external and array_buffers, so `memdoctor analyze` gives
one ranked row for each and heap growth (a JS leak) can be told from off-heap growth (Buffers,
native memory).
"""

from __future__ import annotations

from typing import Any, BinaryIO

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.importers.common import (
    LineStats,
    SeriesSet,
    TimeScale,
    iter_json_lines,
    no_timestamps_warning,
    number,
)
from memdoctor.traces.model import Trace

# Node's key -> the trace's series key.
FIELDS = {"heapUsed": "heap", "heapTotal": "heap_total", "external": "external", "arrayBuffers": "array_buffers"}
METRICS = ["rss", "heap", "external", "array_buffers"]
METRIC_NAMES = {"rss": "rss", "heap": "heapUsed", "heap_total": "heapTotal", "external": "external",
                "array_buffers": "arrayBuffers"}
TIME_KEYS = ("t", "time", "timestamp", "ts", "date")
ELAPSED_KEYS = ("uptime", "elapsed")
NESTED = ("memoryUsage", "memory")


def looks_like_node_memory(head: str) -> bool:
    return head.lstrip().startswith("{") and '"heapUsed"' in head and '"rss"' in head


def _usage(obj: dict[str, Any]) -> dict[str, Any] | None:
    if "rss" in obj and "heapUsed" in obj:
        return obj
    for key in NESTED:
        inner = obj.get(key)
        if isinstance(inner, dict) and "rss" in inner:
            return inner
    return None


def read_node_memory(stream: BinaryIO, source: str = "", max_points: int = DEFAULT_MAX_POINTS,
                     *, interval_s: float | None = None) -> Trace:
    """rss, heapUsed, heapTotal, external and arrayBuffers over time from memoryUsage() lines."""
    stats = LineStats()
    series = SeriesSet(tuple(FIELDS.values()), max_points=max_points)
    scale = TimeScale()
    step = interval_s or 1.0
    index = 0
    timeless = False
    absolute = True
    seen = False
    for obj in iter_json_lines(stream, stats):
        seen = True
        usage = _usage(obj) if isinstance(obj, dict) else None
        rss = number(usage.get("rss")) if usage else None
        if usage is None or rss is None or rss < 0:
            stats.skipped += 1
            continue
        t = next((scale(obj[k]) for k in TIME_KEYS if k in obj), None)
        if t is None:
            t = next((number(obj[k]) for k in ELAPSED_KEYS if k in obj), None)
            if t is not None:
                absolute = False
        if t is None:
            timeless = True
            absolute = False
            t = index * step
        index += 1
        series.add("node", t, rss, {key: number(usage.get(name)) for name, key in FIELDS.items()})
    if not seen:
        raise TraceReadError(f"{source or 'input'} is empty")
    warnings = list(stats.warnings)
    if timeless:
        warnings.append(no_timestamps_warning(step))
    trace = series.traces(source, fmt="node-memory", skipped=stats.skipped, warnings=warnings,
                          absolute_time=absolute)[0]
    trace.header.pop("name", None)
    trace.header["runtime"] = "node"
    trace.header["metrics"] = [m for m in METRICS if m == "rss" or m in trace.series]
    trace.header["metric_names"] = {k: v for k, v in METRIC_NAMES.items() if k == "rss" or k in trace.series}
    return trace
