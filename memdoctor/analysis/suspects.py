"""Which rows of a heap diff are suspects: the ones that explain a meaningful share of the growth.

A diff lists everything that grew (the `diff` command shows it all, for whoever wants to dig);
the report and `doctor` name suspects, and a row of a few KiB beside a container that grew by
megabytes is noise there (issue 21: a one-list leak came with dict, int, float and ctypes rows; a
healthy program's diff was all such rows, and nothing said that nothing significant grows).

Pure: rows are plain dicts with `kind` and `bytes_growth` (the diff-row contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memdoctor.analysis import thresholds as th
from memdoctor.units import format_bytes


@dataclass(frozen=True)
class Selection:
    kept: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    growth_bytes: float  # the growth the rows explain together (the denominator of the shares)
    notes: list[str] = field(default_factory=list)


def growth_found(rows: Sequence[dict[str, Any]]) -> float:
    """The heap growth the rows account for: the sum over Python's per-type rows when there are any (every
    object has one type, so they do not overlap; containers and sites overlap them), else over every row."""
    growing = [r for r in rows if r.get("bytes_growth", 0) > 0]
    types = [r for r in growing if r.get("kind") == "type"]
    return float(sum(r["bytes_growth"] for r in (types or growing)))


def select(rows: Sequence[dict[str, Any]], *, heap_bytes: float | None, trace_says_leak: bool,
           memory_growth_bytes: float | None = None) -> Selection:
    """The suspects among growing rows (largest growth first kept in their order).

    - A row is kept when it explains >= MIN_SUSPECT_SHARE of the growth found.
    - Unless the trace's diagnosis says leak, the rows together must have grown by >= MIN_HEAP_GROWTH_SHARE
      of the heap (`heap_bytes`, at the first snapshot); else none is a suspect and a note says so.
    - With a leak verdict, the rows together must explain >= MIN_SUSPECT_SHARE of what the memory grew
      between the first and the last snapshot (`memory_growth_bytes`: the trace's floor growth over their
      span); else what grows is not in the heap the snapshots see, and no row is named for it.
    """
    growing = [r for r in rows if r.get("bytes_growth", 0) > 0]
    total = growth_found(growing)
    if not growing:
        return Selection([], [], 0.0)
    if trace_says_leak and memory_growth_bytes and memory_growth_bytes > 0 and \
            total < th.MIN_SUSPECT_SHARE * memory_growth_bytes:
        share = total / memory_growth_bytes
        note = (f"the heap's diff explains {format_bytes(total)} ({len(growing)} rows), {share:.1%} of the"
                f" {format_bytes(memory_growth_bytes)} the memory grew between the snapshots: what grows is "
                "not in the heap the snapshots see (native memory, or memory the runtime frees only later), so no "
                "row is a suspect; `memdoctor diff` lists them")
        return Selection([], growing, total, [note])
    if not trace_says_leak and heap_bytes and heap_bytes > 0 and total < th.MIN_HEAP_GROWTH_SHARE * heap_bytes:
        note = (f"nothing significant grows in the heap: {len(growing)} rows grew {format_bytes(total)} in all, "
                f"{total / heap_bytes:.1%} of the {format_bytes(heap_bytes)} heap at the first snapshot (a suspect "
                f"needs >= {th.MIN_HEAP_GROWTH_SHARE:.0%} without a leak verdict); `memdoctor diff` lists them")
        return Selection([], growing, total, [note])
    bar = th.MIN_SUSPECT_SHARE * total
    kept = [r for r in growing if r["bytes_growth"] >= bar]
    dropped = [r for r in growing if r["bytes_growth"] < bar]
    notes = []
    if dropped:
        small = float(sum(r["bytes_growth"] for r in dropped))
        rows_word = "row" if len(dropped) == 1 else "rows"
        notes.append(f"{len(dropped)} smaller growing {rows_word} left out ({format_bytes(small)} in all), each under "
                     f"{th.MIN_SUSPECT_SHARE:.0%} of the {format_bytes(total)} the diff found; `memdoctor diff` "
                     "lists them")
    return Selection(kept, dropped, total, notes)
