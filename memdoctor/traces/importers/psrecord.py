"""psrecord's --log files: plain text (the default) or --log-format csv.

    # Elapsed time   CPU (%)     Real (MB)   Virtual (MB)      <- plain: whitespace-separated
           0.123       34.200       15.633       20.094
    elapsed_time,nproc,cpu,mem_real,mem_virtual                 <- csv (nproc: processes in the tree)
    0.123,1,34.2,15.6328125,20.09375

Times are seconds since the start; "Real" is the RSS (with --include-children, the tree's
total) in MiB (psrecord divides by 1024**2). Optional I/O columns (--include-io) are ignored.
"""

from __future__ import annotations

import math
from typing import BinaryIO

from memdoctor.traces.accumulate import DEFAULT_MAX_POINTS
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.importers.common import SeriesSet
from memdoctor.traces.model import Trace

MIB = 1024.0**2
CSV_HEADER = "elapsed_time,nproc,cpu,mem_real"


def looks_like_psrecord(head: str) -> bool:
    first = next((ln.strip() for ln in head.splitlines() if ln.strip()), "")
    squeezed = " ".join(first.split())
    return squeezed.startswith("# Elapsed time CPU (%) Real (MB)") or first.replace(" ", "").startswith(CSV_HEADER)


def read_psrecord(stream: BinaryIO, source: str = "", max_points: int = DEFAULT_MAX_POINTS) -> Trace:
    """The memory series of a psrecord log (plain or csv)."""
    header_line = b""
    for raw in stream:
        if raw.strip():
            header_line = raw
            break
    text = header_line.decode("utf-8", "replace").strip()
    if not text:
        raise TraceReadError(f"{source or 'input'} is empty")
    is_csv = not text.startswith("#")
    if is_csv:
        names = [c.strip() for c in text.split(",")]
        try:
            t_col, mem_col = names.index("elapsed_time"), names.index("mem_real")
        except ValueError:
            raise TraceReadError(f"{source or 'input'}: psrecord csv header without elapsed_time/mem_real") from None
        procs_col = names.index("nproc") if "nproc" in names else None
    else:
        t_col, mem_col, procs_col = 0, 2, None
    series = SeriesSet(("procs",) if procs_col is not None else (), max_points=max_points)
    skipped = 0
    warnings: list[str] = []
    for raw in stream:
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        if not raw.endswith(b"\n"):
            warnings.append("the last line was cut off (recording interrupted?) and was skipped")
            break
        cells = line.decode("utf-8", "replace").split("," if is_csv else None)
        try:
            t = float(cells[t_col])
            mem = float(cells[mem_col]) * MIB
            procs = float(cells[procs_col]) if procs_col is not None else None
        except (ValueError, IndexError):
            skipped += 1
            continue
        if not (math.isfinite(t) and math.isfinite(mem)) or mem < 0:
            skipped += 1
            continue
        series.add("psrecord", t, mem, {"procs": procs} if procs is not None else None)
    trace = series.traces(source, fmt="psrecord", skipped=skipped, warnings=warnings, absolute_time=False)[0]
    trace.header.pop("name", None)
    return trace
