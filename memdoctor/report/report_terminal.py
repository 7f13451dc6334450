"""The report in the terminal: a rich layout that fits 100 columns."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from memdoctor.report.report_text import (
    allocation_sites_text,
    caps_text,
    global_caps_text,
    memory_text,
    suspect_cells,
    time_to_limit_text,
    verdict_text,
)

WIDTH = 100
_STYLE = {"leak": "bold red", "no-leak": "bold green", "inconclusive": "bold yellow"}


def print_report(console: Console, report: dict[str, Any]) -> None:
    d = report.get("diagnosis")
    trace = report.get("trace") or {}
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")
    if trace.get("name"):
        head.add_row("trace", str(trace["name"]))
    head.add_row("verdict", Text(verdict_text(d), style=_STYLE.get(d["verdict"], "") if d else ""))
    if memory := memory_text(report):
        head.add_row("memory", f"limit {memory}")
    if time_left := time_to_limit_text(d):
        head.add_row("time to limit", time_left)
    for i, line in enumerate((d or {}).get("evidence") or []):
        head.add_row("evidence" if i == 0 else "", line)
    console.print(head)
    suspects = report.get("suspects") or []
    if suspects:
        table = Table(title="suspects, soonest to exhaust the headroom first", width=WIDTH, show_lines=True)
        table.add_column("#", no_wrap=True)
        table.add_column("what grows / where / caps", overflow="fold", ratio=3)
        table.add_column("growth", no_wrap=True)
        table.add_column("entries", overflow="fold")
        table.add_column("exhausts", no_wrap=True)
        for s in suspects:
            c = suspect_cells(s)
            body = Text(c["key"], style="bold")
            body.append(f"\n{c['where']}", style="dim")
            for line in caps_text(s.get("caps")):
                body.append(f"\n{line}")
            per = f"\n{c['per_entry']} each" if c["per_entry"] else ""
            table.add_row(c["rank"], body, f"{c['growth']}\n{c['rate']}", f"{c['entries']}{per}", c["exhausts"])
        console.print(table)
    for line in global_caps_text(report.get("caps") or {}) + allocation_sites_text(report):
        console.print(line, highlight=False, markup=False)
    notes = list((report.get("heap") or {}).get("notes") or []) + list(report.get("notes") or [])
    for note in notes:
        console.print(f"note: {note}", highlight=False, markup=False)


def render(report: dict[str, Any]) -> str:
    """Plain text (no color) of the terminal layout, for -o FILE."""
    import io

    buf = io.StringIO()
    print_report(Console(file=buf, width=WIDTH, no_color=True, highlight=False, force_terminal=False), report)
    return buf.getvalue()
