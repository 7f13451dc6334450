"""The ranked table of several series: rich for the terminal, a pipe table for Markdown."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from memdoctor.fleet.ranking import RankedSeries
from memdoctor.units import format_bytes, format_duration, format_rate

VERDICT_STYLE = {"leak": "bold red", "no-leak": "green", "inconclusive": "yellow"}
COLUMNS = ("#", "series", "verdict", "pattern", "floor growth", "time to limit", "limit", "last")


def _cells(i: int, row: RankedSeries) -> list[str]:
    d = row.diagnosis
    return [
        str(i),
        row.name,
        d.verdict,
        d.pattern,
        format_rate(d.growth_bytes_per_s),
        format_duration(d.time_to_limit_s) if d.time_to_limit_s is not None else "-",
        format_bytes(d.limit_bytes) if d.limit_bytes else "-",
        format_bytes(d.last_bytes) if d.last_bytes is not None else "-",
    ]


def ranked_table(rows: list[RankedSeries], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for name in COLUMNS:
        table.add_column(name, no_wrap=name != "series", overflow="fold",
                         justify="right" if name in ("#", "floor growth", "limit", "last") else "left")
    for i, row in enumerate(rows, 1):
        cells = _cells(i, row)
        verdict = Text(cells[2], style=VERDICT_STYLE.get(cells[2], ""))
        table.add_row(*cells[:2], verdict, *cells[3:])
    return table


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[RankedSeries], title: str | None = None, notes: list[str] | None = None) -> str:
    lines = []
    if title:
        lines += [f"### {_md(title)}", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---:" if c in ("#", "floor growth", "limit", "last") else "---" for c in COLUMNS)
                 + "|")
    for i, row in enumerate(rows, 1):
        cells = _cells(i, row)
        cells[1] = f"`{cells[1]}`" if "`" not in cells[1] else cells[1]
        if cells[2] == "leak":
            cells[2] = "**leak**"
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    for note in notes or []:
        lines += ["", _md(note)]
    return "\n".join(lines) + "\n"
