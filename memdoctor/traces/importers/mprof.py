"""memory_profiler's `mprof run` files (.dat): one line per sample, memory in MiB.

    CMDLINE python3 app.py
    MEM 45.390625 1795463909.1202        <- the main process (or the whole tree with -C), MiB, unix time
    CHLD 12345 20.500000 1795463909.1203 <- one child (with --multiprocess / -M), written after its MEM
    FUNC name 12.0 1795463901.0 13.0 1795463902.0 1   <- @profile'd functions: ignored

Two formats read the same file:
- `mprof`: the process tree's total, like memdoctor's own `rss`, with the main process as
  `rss_root` and the number of processes as `procs`. The file does not record whether mprof ran
  with -C (MEM already includes the children) or only -M (MEM is the main process alone): when
  MEM is at least the sum of the children at nearly every sample, MEM is taken as the total
  (-C); otherwise the children are added to it. The evidence says which.
- `mprof-children`: one series per process ("main", "child PID"), to see which one grows.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import numpy as np

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.importers.common import SeriesSet
from memdoctor.traces.model import Trace

MIB = 1024.0**2
KINDS = ("CMDLINE", "MEM", "CHLD", "FUNC")
# MEM covers the children (mprof -C) when it is at least their sum at this share of the samples.
INCLUDES_CHILDREN_SHARE = 0.95


def looks_like_mprof(head: str) -> bool:
    lines = [ln for ln in head.splitlines() if ln.strip()][:5]
    complete = lines[:-1] if len(lines) > 1 else lines
    return bool(lines) and all(ln.split(" ", 1)[0] in KINDS for ln in complete) and any(
        ln.startswith(("MEM ", "CHLD ")) for ln in lines)


def _read(stream: BinaryIO, source: str, max_points: int, per_child: bool
          ) -> tuple[SeriesSet, dict[str, Any], int, list[str]]:
    """Parse the lines. Per child: series "main" and "child N". Else: one series "tree" whose
    value is MEM, with the children's sum and the process count of each tick as extras."""
    series = SeriesSet(() if per_child else ("children", "procs"), max_points=max_points)
    meta: dict[str, Any] = {}
    skipped = 0
    warnings: list[str] = []
    seen = 0
    tick: list[float] | None = None  # [t, mem, children sum, procs]

    def emit() -> None:
        if tick is not None:
            series.add("tree", tick[0], tick[1], {"children": tick[2], "procs": tick[3]})

    for raw in stream:
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            continue
        seen += 1
        if not raw.endswith(b"\n"):
            # mprof ends every line: one without an end was cut while being written.
            warnings.append("the last line was cut off (recording interrupted?) and was skipped")
            break
        kind, _, rest = text.partition(" ")
        try:
            if kind == "MEM":
                mem, stamp = (float(x) for x in rest.split()[:2])
                if per_child:
                    series.add("main", stamp, mem * MIB)
                else:
                    emit()
                    tick = [stamp, mem * MIB, 0.0, 1.0]
            elif kind == "CHLD":
                child, mem_text, stamp_text = rest.split()[:3]
                mem, stamp = float(mem_text) * MIB, float(stamp_text)
                if per_child:
                    series.add(f"child {child}", stamp, mem)
                elif tick is not None:
                    tick[2] += mem
                    tick[3] += 1
            elif kind == "CMDLINE":
                meta["cmdline"] = rest.split()
            elif kind != "FUNC":
                skipped += 1
        except ValueError:
            skipped += 1
    emit()
    if seen == 0:
        raise TraceReadError(f"{source or 'input'} is empty")
    return series, meta, skipped, warnings


def read_mprof_children(stream: BinaryIO, source: str = "", max_points: int = DEFAULT_MAX_POINTS) -> list[Trace]:
    """One series per process of an mprof file: "main", then "child PID" for each child."""
    series, meta, skipped, warnings = _read(stream, source, max_points, per_child=True)
    traces = series.traces(source, fmt="mprof", skipped=skipped, warnings=warnings)
    for trace in traces:
        trace.header.update(meta)
    return traces


def read_mprof(stream: BinaryIO, source: str = "", max_points: int = DEFAULT_MAX_POINTS) -> Trace:
    """The process tree's memory over time from an mprof file (children summed)."""
    series, meta, skipped, warnings = _read(stream, source, max_points, per_child=False)
    if not len(series):
        raise TraceReadError(f"{source or 'input'} has no MEM line: not an mprof recording")
    trace = series.traces(source, fmt="mprof", skipped=skipped, warnings=warnings)[0]
    trace.header.pop("name", None)
    trace.header.update(meta)
    children = trace.series.pop("children", np.zeros(len(trace)))
    procs = trace.series.get("procs")
    with_children = children > 0
    if with_children.any():
        covered = trace.rss[with_children] >= 0.98 * children[with_children]
        if covered.mean() >= INCLUDES_CHILDREN_SHARE:
            trace.series["rss_root"] = trace.rss - children
            trace.warnings.append("mprof's MEM already includes the children (mprof run -C): taken as the total")
        else:
            trace.series["rss_root"] = trace.rss.copy()
            trace.rss = trace.rss + children
            count = int(np.nanmax(procs)) - 1 if procs is not None else 0
            trace.warnings.append(f"up to {count} child process(es) from CHLD lines added to MEM (mprof run -M)")
    else:
        trace.series.pop("procs", None)
    return trace
