"""`memdoctor diff` for Python snapshots: what grows, ranked by retained bytes.

Rows (the diff contract, memdoctor/heap/model.py):
- named containers (kind "container"): module globals, class attributes, attributes of module
  level objects, functools caches, with their retained (bounded deep) size and entry count;
- types (kind "type"): all live objects of one type, shallow sizes;
- allocation sites (kind "site"): from `--allocations`, tracemalloc dumps or memray captures.
With three snapshots only what grew in both steps is kept (steady growth, not a one-off).
Growth per minute comes from the snapshots' capture times; `suggested_cap` for a container is
the cap of analysis.caps.container_caps, the one computation `report` and `caps` use too:
floor((limit - baseline) x 0.25 / bytes per entry), with the limit from --limit, else the
snapshots' metadata, else physical memory, and the baseline the RSS at the first snapshot.
"""

from __future__ import annotations

import contextlib
import itertools
import os

from memdoctor.analysis import caps
from memdoctor.heap.model import DiffResult, DiffRow
from memdoctor.heap.python.native import describe_growth
from memdoctor.heap.python.reader import Container, PySnapshot, Site, read_snapshot
from memdoctor.heap.runtimes import HeapError

KIND_ORDER = {"container": 0, "site": 1, "type": 2}


def diff_snapshots(paths: list[str], *, limit_bytes: int | None = None, top: int = 20,
                   show_values: bool = False) -> DiffResult:
    if not 2 <= len(paths) <= 3:
        raise HeapError("give two or three snapshots: OLD NEW [NEWER]")
    snaps = [read_snapshot(path) for path in paths]
    result = diff_models(snaps, limit_bytes=limit_bytes, top=top)
    if show_values:
        _attach_values(result, snaps[-1])
    return result


def _attach_values(result: DiffResult, newest: PySnapshot) -> None:
    """Sample entries of each container row, from the newest snapshot, when it recorded any."""
    result.values_shown = True
    recorded = False
    for row in result.rows:
        item = newest.containers.get(row.key) if row.kind == "container" else None
        if item is not None and item.values is not None:
            row.extras["sample_values"] = item.values
            recorded = True
    if not recorded:
        result.notes.append("these Python snapshots hold no values (memdoctor's agent records none by default): "
                            "take them with `memdoctor snapshot PID --show-values` to see entries")


def diff_models(snaps: list[PySnapshot], *, limit_bytes: int | None = None, top: int = 20) -> DiffResult:
    """The pure part: rows from two or three snapshot models."""
    pids = {s.pid for s in snaps if s.pid is not None}
    notes: list[str] = []
    if len(pids) > 1:
        notes.append("the snapshots come from different processes (PIDs " + ", ".join(map(str, sorted(pids)))
                     + "): growth between them is not a leak of one process")
    times = [s.captured_at for s in snaps]
    if all(t is not None for t in times) and any(b <= a for a, b in itertools.pairwise(times)):  # type: ignore[operator]
        raise HeapError("the snapshots are not in time order: give them oldest first (OLD NEW [NEWER])")
    interval = (times[-1] - times[0]) if times[0] is not None and times[-1] is not None else None
    limit, limit_note = _limit(snaps, limit_bytes)
    if limit_note:
        notes.append(limit_note)
    baseline = snaps[0].rss  # the service's memory before the growth measured here; the caps' baseline
    caps_at = (limit, baseline) if limit is not None and baseline is not None else None
    if caps_at is None:
        notes.append("no RSS in the first snapshot: no caps")

    rows: list[DiffRow] = []
    rows += _rows("container", [s.containers for s in snaps], interval, caps_at)
    rows += _rows("site", [s.sites for s in snaps], interval, None)
    rows += _rows("type", [{k: v for k, v in s.types.items()} for s in snaps], interval, None)
    rows.sort(key=lambda r: (-r.bytes_growth, KIND_ORDER.get(r.kind, 9), r.key))
    notes += describe_growth(snaps[0], snaps[-1])
    if len(snaps) == 3:
        notes.append("three snapshots: only what grew in both steps is listed")
    for snap in snaps:
        if snap.skipped:
            notes.append(skipped_note(snap))
    if any(r.kind == "container" and r.extras.get("estimated") for r in rows[:top]):
        notes.append("container sizes are estimated from a sample of their entries (up to 200 each)")
    return DiffResult(rows=rows[:top], runtime="python", snapshots=[s.path for s in snaps], interval_s=interval,
                      limit_bytes=limit, notes=notes)


def skipped_note(snap: PySnapshot) -> str:
    """One line on the objects the agent passed over in a snapshot (their own code raised or lied)."""
    info = snap.skipped or {}
    first = info.get("first")
    named = f", the first {first}" + (f" ({info['error']})" if info.get("error") else "") if first else ""
    return (f"{os.path.basename(snap.path)}: {info.get('objects')} objects were skipped because their own code "
            f"raised or lied on inspection (a proxy, a property){named}; the rest of the heap is counted")


def _limit(snaps: list[PySnapshot], override: int | None) -> tuple[int | None, str | None]:
    if override is not None:
        return override, None
    for snap in reversed(snaps):
        if snap.limit_bytes:
            return snap.limit_bytes, None
    from memdoctor.sampling.limits import physical_memory

    return physical_memory(), "no memory limit in the snapshots' metadata: caps use physical memory"


def _value(kind: str, item: object | None) -> tuple[int, int]:
    """(count, bytes) of one row in one snapshot."""
    if item is None:
        return 0, 0
    if isinstance(item, Container):
        return item.entries, item.bytes
    if isinstance(item, Site):
        return item.count, item.bytes
    count, size = item  # type: ignore[misc]
    return int(count), int(size)


def _rows(kind: str, tables: list[dict], interval: float | None,
          caps_at: tuple[int, int] | None) -> list[DiffRow]:
    """Rows of one kind; `caps_at` (limit, baseline) gives container rows their caps."""
    first, last = tables[0], tables[-1]
    middle = tables[1] if len(tables) == 3 else None
    rows = []
    for key in set(first) | set(last):
        c0, b0 = _value(kind, first.get(key))
        c2, b2 = _value(kind, last.get(key))
        if b2 <= b0:
            continue
        cm = bm = None
        if middle is not None:
            cm, bm = _value(kind, middle.get(key))
            if not (b0 < bm < b2):
                continue  # a one-off, or it shrank in one step
        item = last.get(key) or first.get(key)
        row = DiffRow(key=key, count_before=c0, count_after=c2, bytes_before=b0, bytes_after=b2,
                      where=_where(kind, item), kind=kind, count_middle=cm, bytes_middle=bm)
        if interval and interval > 0:
            row.bytes_per_min = round((b2 - b0) / interval * 60.0, 1)
            row.entries_per_min = round((c2 - c0) / interval * 60.0, 2)
        if c2 > c0:
            row.bytes_per_entry = round((b2 - b0) / (c2 - c0), 1)
        if kind == "container":
            row.extras["type"] = item.type if isinstance(item, Container) else None
            if isinstance(item, Container) and not item.exact:
                row.extras["estimated"] = True
            if caps_at is not None and row.bytes_per_entry and row.bytes_per_entry > 0:
                arrivals = (c2 - c0) / interval if interval and c2 > c0 else None
                with contextlib.suppress(ValueError):  # no budget: the baseline is at or above the limit
                    found = caps.container_caps(caps_at[0], caps_at[1], row.bytes_per_entry, arrivals, "python")
                    row.suggested_cap = found["max_entries"]
                    row.extras["caps"] = found
        rows.append(row)
    return rows


def _where(kind: str, item: object | None) -> str:
    if isinstance(item, Container):
        return item.where
    if isinstance(item, Site):
        return "allocated here" + (f", called from {item.caller}" if item.caller else "")
    return "all objects of this type"
