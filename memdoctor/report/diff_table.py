"""Terminal rendering of a heap diff: the top rows as a rich table (fits 100 columns)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from memdoctor.heap.model import DiffResult
from memdoctor.units import format_bytes


def _signed(n: int) -> str:
    return f"+{n:,}" if n > 0 else f"{n:,}"


def print_diff(console: Console, result: DiffResult, top: int = 20) -> None:
    table = Table(title=f"What grows ({result.runtime}, {len(result.snapshots)} snapshots)", title_justify="left",
                  show_lines=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("what", overflow="fold")
    table.add_column("entries", justify="right", no_wrap=True)
    table.add_column("bytes", justify="right", no_wrap=True)
    table.add_column("rate", justify="right", no_wrap=True)
    table.add_column("where", overflow="fold")
    table.add_column("cap", justify="right", no_wrap=True)
    for i, row in enumerate(result.rows[:top], 1):
        rate = f"{format_bytes(row.bytes_per_min)}/min" if row.bytes_per_min is not None else ""
        cap = f"{row.suggested_cap:,}" if row.suggested_cap is not None else ""
        table.add_row(str(i), row.key, _signed(row.count_growth), "+" + format_bytes(row.bytes_growth)
                      if row.bytes_growth >= 0 else format_bytes(row.bytes_growth), rate, row.where, cap)
    if not result.rows:
        console.print("nothing grew between the snapshots")
    else:
        console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    if result.values_shown:
        print_sample_values(console, result, top)


VALUES_WARNING = ("--show-values: the lines below are VALUES from the heap (keys, strings), which may be "
                  "secrets or personal data; do not paste them where they should not be.")


def print_sample_values(console: Console, result: DiffResult, top: int) -> None:
    console.print(VALUES_WARNING, markup=False, style="bold yellow")
    shown = 0
    for i, row in enumerate(result.rows[:top], 1):
        values = row.extras.get("sample_values")
        if values is None:
            continue
        shown += 1
        console.print(f"  #{i} {row.key}, newest entries:", markup=False, highlight=False)
        for value in values or ["(none that the snapshot holds as objects or strings, e.g. small integers)"]:
            console.print(f"      {value}", markup=False, highlight=False, overflow="ellipsis", no_wrap=True)
    if not shown:
        console.print("  (no row is a container with entries to sample)", markup=False)
