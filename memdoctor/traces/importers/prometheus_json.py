"""A Prometheus `query_range` response (the HTTP API's JSON), saved to a file or read live.

    {"status": "success",
     "data": {"resultType": "matrix",
              "result": [{"metric": {"__name__": "container_memory_working_set_bytes", "pod": "api-0", ...},
                          "values": [[1795460000, "123456789"], [1795460030, "123457000"], ...]},
                         ...]}}

Values are strings (bytes for memory metrics; "NaN"/"+Inf" are dropped); times are unix
seconds. The same format comes from Thanos, Mimir, Cortex and VictoriaMetrics.

The response is parsed one series at a time (`iter_matrix`): the text before the result array
is scanned, then each element of the array is decoded on its own and dropped, so a response of
a thousand day-long series is read in the memory of one series. `memdoctor fleet` reads the
HTTP response of a live server with the same function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS, SampleAccumulator
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.importers.common import JsonValueStream, iso_utc
from memdoctor.traces.model import Trace

_RESULT = re.compile(r'"result"\s*:\s*\[')
_RESULT_TYPE = re.compile(r'"resultType"\s*:\s*"(\w+)"')
_STATUS = re.compile(r'"status"\s*:\s*"(\w+)"')
PREFIX_LIMIT = 16 << 20  # text before the result array (status, resultType, warnings, stats)
# Labels that name a container in Kubernetes, most general first.
IDENTITY_LABELS = ("cluster", "namespace", "pod", "container")


def looks_like_prometheus(head: str) -> bool:
    text = head.lstrip()
    return text.startswith("{") and ('"resultType"' in head or (
        '"status"' in head and ('"data"' in head or '"errorType"' in head)))


@dataclass
class Matrix:
    """What `iter_matrix` learnt besides the series: warnings, and whether the input was cut."""

    warnings: list[str] = field(default_factory=list)
    series: int = 0
    truncated: bool = False


def series_name(labels: dict[str, str]) -> str:
    """A short, readable name: namespace/pod/container for Kubernetes series, else name{labels}."""
    if "pod" in labels or "container" in labels:
        parts = [labels[k] for k in IDENTITY_LABELS if labels.get(k)]
        return "/".join(parts)
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def _error_document(text: str, source: str) -> TraceReadError:
    try:
        doc = json.loads(text)
    except ValueError:
        return TraceReadError(f"{source}: not a complete Prometheus API response (cut off or not JSON)")
    if not isinstance(doc, dict):
        return TraceReadError(f"{source}: not a Prometheus API response")
    if doc.get("status") == "error":
        kind = str(doc.get("errorType") or "error")[:40]
        message = " ".join(str(doc.get("error") or "").split())[:300]
        return TraceReadError(f"{source}: Prometheus answered with an error ({kind}): {message}")
    data = doc.get("data")
    if isinstance(data, dict) and data.get("resultType") not in (None, "matrix"):
        return _not_matrix(str(data.get("resultType")), source)
    if isinstance(data, dict) and data.get("result") == []:
        return TraceReadError(f"{source}: the query returned no series")
    return TraceReadError(f"{source}: not a Prometheus query_range response (no data.result matrix)")


def _not_matrix(kind: str, source: str) -> TraceReadError:
    return TraceReadError(f"{source}: the result is a {kind} (an instant query); memdoctor needs a range query's "
                          "matrix: save /api/v1/query_range")


def iter_matrix(stream: BinaryIO, source: str, info: Matrix | None = None) -> Iterator[tuple[dict[str, str], np.ndarray,
                                                                                            np.ndarray]]:
    """(labels, times, values) of each series of a query_range response, one at a time.

    Raises TraceReadError for an error response, a non-matrix result, or text that is not a
    response; a response cut inside the result array ends the iteration with `info.truncated`.
    """
    info = info if info is not None else Matrix()
    reader = JsonValueStream(stream)
    # 1. The text before the result array.
    while True:
        found = _RESULT.search(reader.buf)
        if found:
            break
        if len(reader.buf) > PREFIX_LIMIT or not reader.read_more():
            raise _error_document(reader.buf, source)
    prefix = reader.buf[:found.start()]
    status = _STATUS.search(prefix)
    if status and status.group(1) != "success":
        while reader.read_more():
            if len(reader.buf) > PREFIX_LIMIT:
                break
        raise _error_document(reader.buf, source)
    kind = _RESULT_TYPE.search(prefix)
    if kind and kind.group(1) != "matrix":
        raise _not_matrix(kind.group(1), source)
    reader.pos = found.end()
    # 2. One element of the result array at a time.
    while True:
        nxt = reader.skip(" \t\r\n,")
        if nxt == "]":
            reader.pos += 1
            break
        if nxt == "":
            info.truncated = True
            break
        try:
            element = reader.next_value()
        except (ValueError, EOFError):
            info.truncated = True
            break
        if not isinstance(element, dict):
            continue
        if "values" not in element:
            if "value" in element:
                raise _not_matrix("vector", source)
            continue
        metric = element.get("metric")
        labels: dict[Any, Any] = metric if isinstance(metric, dict) else {}
        t, v = _points(element.get("values"))
        info.series += 1
        yield {str(k): str(val) for k, val in labels.items()}, t, v
    # 3. What follows the array: Prometheus puts warnings (e.g. a partial response) there.
    rest = reader.buf[reader.pos:reader.pos + 65536]
    if '"warnings"' in rest:
        match = re.search(r'"warnings"\s*:\s*(\[[^\]]*\])', rest)
        if match:
            try:
                info.warnings.extend(str(w)[:200] for w in json.loads(match.group(1)))
            except ValueError:
                pass


def _points(values: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(values, list) or not values:
        return np.empty(0), np.empty(0)
    try:
        pairs = np.asarray(values, dtype=object)
        t = pairs[:, 0].astype(float)
        v = pairs[:, 1].astype(float)
    except (ValueError, TypeError, IndexError):
        t_list, v_list = [], []
        for pair in values:
            try:
                t_list.append(float(pair[0]))
                v_list.append(float(pair[1]))
            except (ValueError, TypeError, IndexError):
                continue
        t, v = np.asarray(t_list), np.asarray(v_list)
    keep = np.isfinite(t) & np.isfinite(v) & (v >= 0)
    if not keep.all():
        t, v = t[keep], v[keep]
    return t, v


def series_trace(labels: dict[str, str], t: np.ndarray, v: np.ndarray, *, source: str = "",
                 max_points: int = DEFAULT_MAX_POINTS, limit_bytes: int | None = None) -> Trace:
    """A Trace of one Prometheus series (times since its first point; labels in the header)."""
    acc = SampleAccumulator((), max_points=max_points)
    acc.add(t, v)
    t, v, _ = acc.arrays()
    header: dict[str, Any] = {"source": "prometheus", "name": series_name(labels), "labels": labels}
    if len(t):
        header["started_at"] = iso_utc(float(t[0]))
        t = t - t[0]
    if limit_bytes:
        header["limit_bytes"] = int(limit_bytes)
    trace = Trace(t=t, rss=v, header=header, source=source, samples_read=acc.rows_read)
    if acc.thinned:
        trace.warnings.append(f"{acc.rows_read} samples thinned to {len(t)} (per-bucket min and max kept)")
    return trace


def read_prometheus(stream: BinaryIO, source: str = "", max_points: int = DEFAULT_MAX_POINTS) -> list[Trace]:
    """Every series of a saved query_range response, one Trace each."""
    info = Matrix()
    traces = []
    empty = 0
    for labels, t, v in iter_matrix(stream, source or "input", info):
        if len(t) == 0:
            empty += 1
            continue
        traces.append(series_trace(labels, t, v, source=source, max_points=max_points))
    if info.truncated:
        if not traces:
            raise TraceReadError(f"{source or 'input'}: the Prometheus response is cut off before its first "
                                 "complete series")
        note = f"the response is cut off: the {len(traces)} complete series before the cut are kept"
        for trace in traces:
            trace.warnings.append(note)
    if not traces:
        what = f"{empty} series without a usable point" if empty else "no series"
        raise TraceReadError(f"{source or 'input'}: the query result has {what}")
    for trace in traces:
        trace.warnings.extend(f"Prometheus warning: {w}" for w in info.warnings)
    return traces
