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

The MEM lines of 0 MiB that end a file are not memory: mprof samples the process until it is
gone (`mprof run` polls its child only after each sample; `--attach` samples until the pid
disappears) and reads the exited process, a zombie until it is reaped, as 0.000000: psutil's
memory_info() of a zombie is 0 (its /proc/PID/statm is all zeros; checked with psutil on Linux).
A running process always maps some memory, so they are left out, with a warning. Read as
samples, they were a restart to 0 B at the very end
(benchmarks/classifier/recordings/rw_py_lru_unbounded.mprof.dat: restarts 1, last 0 B, and a
floor 15 KB above the peak, the fitted line of the lifetime "before the restart").
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
    # MEM lines of 0 MiB held back until a later sample shows the process still ran: those that end
    # the file are mprof's reading of the exited process (module docstring), left out.
    gone: list[tuple[float, float, float]] = []  # (t, children sum, procs) of each

    def add(name: str, t: float, mem: float, extra: dict[str, float] | None = None) -> None:
        # A tree whose children still hold memory has not exited (mprof -M: MEM is the main process alone).
        if name in ("main", "tree") and mem == 0 and not (extra or {}).get("children"):
            gone.append((t, (extra or {}).get("children", 0.0), (extra or {}).get("procs", 1.0)))
            return
        if name in ("main", "tree"):
            for t_gone, children, procs in gone:  # a 0 followed by memory: a sample after all
                series.add(name, t_gone, 0.0, None if per_child else {"children": children, "procs": procs})
            gone.clear()
        series.add(name, t, mem, extra)

    def emit() -> None:
        if tick is not None:
            add("tree", tick[0], tick[1], {"children": tick[2], "procs": tick[3]})

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
                    add("main", stamp, mem * MIB)
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
    if gone and not len(series):
        raise TraceReadError(f"{source or 'input'}: every MEM line reads 0 MiB (the process had exited): no memory "
                             "was recorded")
    if gone:
        which = "the last sample reads" if len(gone) == 1 else f"the last {len(gone)} samples read"
        warnings.append(f"{which} 0 MiB: mprof's reading of the process after it exited, not memory; left out")
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
