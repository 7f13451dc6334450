"""Docker's memory statistics, in the two shapes people save them:

1. `docker stats --format '{{json .}}'` lines (one per container per refresh):
       {"BlockIO":"0B / 0B","CPUPerc":"0.07%","Container":"api","ID":"1285939c1fd3","MemPerc":"8.87%",
        "MemUsage":"45.39MiB / 512MiB","Name":"api","NetIO":"788B / 648B","PIDs":"3"}
   "MemUsage" is "usage / limit" with binary units (B, KiB, MiB, GiB; docker prints 4 significant
   digits); the limit is taken from it. The CLI's usage already has the inactive page cache taken
   out. Lines carry no time: a refresh ("round") ends when a container shows up again, and rounds
   are `--interval` apart (1 s by default, docker's refresh); a time key added by a wrapper script
   ("time", "timestamp", "ts": unix or ISO-8601) is used when present. Terminal escapes (the
   screen clears of a streaming `docker stats` piped to a file) are ignored.
2. The Engine API stats stream (`GET /containers/ID/stats`, or `docker ... stats --no-stream`
   saved as JSON), one object per line or pretty-printed:
       {"read":"2026-11-23T10:00:00.123456789Z","name":"/api","id":"...",
        "memory_stats":{"usage":47596544,"limit":536870912,"stats":{"inactive_file":1048576,...}}}
   The memory is computed as the docker CLI does: usage minus the inactive page cache
   (`total_inactive_file` on cgroup v1, `inactive_file` on cgroup v2), i.e. the working set.

One series per container (by name), with the container's limit in its header.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.importers.common import (
    JsonValueStream,
    LineStats,
    SeriesSet,
    TimeScale,
    iter_json_lines,
    no_timestamps_warning,
    number,
    strip_ansi,
)
from memdoctor.traces.model import Trace
from memdoctor.units import UnitError, parse_size

TIME_KEYS = ("time", "timestamp", "ts", "date", "read")
DEFAULT_INTERVAL_S = 1.0
# Docker reports "no limit" as the host's memory; cgroup v1 as a huge number.
NO_LIMIT = 1 << 62


def looks_like_docker_stats(head: str) -> bool:
    text = strip_ansi(head).lstrip()
    return text.startswith("{") and ('"MemUsage"' in head or '"memory_stats"' in head)


def _size(text: str) -> float | None:
    text = text.strip()
    if not text or text.startswith("-"):
        return None
    try:
        return float(parse_size(text))
    except UnitError:
        return None


def _cli_sample(obj: dict[str, Any]) -> tuple[str, float, float | None, float | None] | None:
    """(container, usage, limit, pids) of a `docker stats --format '{{json .}}'` line."""
    usage_text = obj.get("MemUsage")
    if not isinstance(usage_text, str):
        return None
    usage_part, _, limit_part = usage_text.partition("/")
    usage = _size(usage_part)
    if usage is None:
        return None
    name = next((str(obj[k]) for k in ("Name", "Container", "ID") if obj.get(k)), "container")
    pids = number(obj.get("PIDs"))
    return name, usage, _size(limit_part), pids


def _api_sample(obj: dict[str, Any]) -> tuple[str, float, float | None, float | None] | None:
    """(container, working set, limit, pids) of an Engine API stats object."""
    mem = obj.get("memory_stats")
    if not isinstance(mem, dict):
        return None
    usage = number(mem.get("usage"))
    if usage is None:
        return None  # a stopped container reports empty memory_stats
    raw_stats = mem.get("stats")
    stats: dict[str, Any] = raw_stats if isinstance(raw_stats, dict) else {}
    for key in ("total_inactive_file", "inactive_file"):
        cache = number(stats.get(key))
        if cache is not None and cache < usage:
            usage -= cache
            break
    name = str(obj.get("name") or obj.get("id") or "container").lstrip("/")
    pids_stats = obj.get("pids_stats")
    pids = number(pids_stats.get("current")) if isinstance(pids_stats, dict) else None
    return name, usage, number(mem.get("limit")), pids


def _values(stream: BinaryIO, stats: LineStats) -> Any:
    """JSON values from lines, or from pretty-printed / concatenated objects."""
    first = stream.readline()
    stream.seek(0)
    try:
        json.loads(strip_ansi(first.decode("utf-8", "replace")))
        yield from iter_json_lines(stream, stats)
        return
    except ValueError:
        pass
    reader = JsonValueStream(stream)
    while True:
        try:
            yield reader.next_value()
        except EOFError:
            return
        except ValueError:
            stats.warnings.append("the input is cut off or has text that is not JSON: read up to there")
            return


def read_docker_stats(stream: BinaryIO, source: str = "", max_points: int = DEFAULT_MAX_POINTS,
                      *, interval_s: float | None = None) -> list[Trace]:
    """One Trace per container from `docker stats` JSON lines or an Engine API stats stream."""
    stats = LineStats()
    series = SeriesSet(("procs",), max_points=max_points)
    scale = TimeScale()
    step = interval_s or DEFAULT_INTERVAL_S
    round_index = 0
    in_round: set[str] = set()
    timeless = False
    limits: dict[str, float] = {}
    seen_any = False
    for obj in _values(stream, stats):
        seen_any = True
        if not isinstance(obj, dict):
            stats.skipped += 1
            continue
        sample = _api_sample(obj) if "memory_stats" in obj else _cli_sample(obj)
        if sample is None:
            stats.skipped += 1
            continue
        name, usage, limit, pids = sample
        t = next((scale(obj[k]) for k in TIME_KEYS if k in obj), None)
        if t is None:
            timeless = True
            if name in in_round:
                round_index += 1
                in_round.clear()
            in_round.add(name)
            t = round_index * step
        series.add(name, t, usage, {"procs": pids})
        if limit is not None and 0 < limit < NO_LIMIT:
            limits[name] = limit
    if not seen_any:
        raise TraceReadError(f"{source or 'input'} is empty")
    warnings = list(stats.warnings)
    if timeless:
        warnings.append(no_timestamps_warning(step))
    for name, limit in limits.items():
        series.header(name)["limit_bytes"] = int(limit)
        series.header(name)["limit_source"] = "docker stats"
    return series.traces(source, fmt="docker-stats", skipped=stats.skipped, warnings=warnings,
                         absolute_time=not timeless)
