"""Terminal rendering of a gate result: one line per check, then the diagnosis."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from memdoctor.analysis.gate import GateResult
from memdoctor.report.terminal import diagnosis_table


def print_gate(console: Console, result: GateResult, title: str) -> None:
    status = Text("PASSED" if result.passed else "FAILED", style="bold green" if result.passed else "bold red")
    console.print(Text.assemble("memdoctor gate ", status, f": {title}"))
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for check in result.checks:
        mark = Text("pass", style="green") if check.passed else Text("FAIL", style="bold red")
        table.add_row(mark, check.name, check.message)
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    if result.measurements is not None:
        console.print(diagnosis_table(result.measurements.diagnosis))
