"""The report as Markdown that fits a pull-request comment (tables, no images)."""

from __future__ import annotations

from typing import Any

from memdoctor.report.report_text import (
    allocation_sites_text,
    caps_text,
    global_caps_text,
    memory_text,
    suspect_cells,
    time_to_limit_text,
    verdict_text,
)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(report: dict[str, Any]) -> str:
    out: list[str] = ["## memdoctor report", ""]
    d = report.get("diagnosis")
    trace = report.get("trace") or {}
    if trace.get("name"):
        out.append(f"**Trace:** `{_cell(trace['name'])}`  ")
    out.append(f"**Verdict:** {verdict_text(d)}  ")
    if memory := memory_text(report):
        out.append(f"**Limit:** {memory}  ")
    if time_left := time_to_limit_text(d):
        out.append(f"**Time to limit:** {time_left}  ")
    out.append("")
    if d and d.get("evidence"):
        out += [f"- {_cell(e)}" for e in d["evidence"]] + [""]
    suspects = report.get("suspects") or []
    if suspects:
        out += ["### Suspects, soonest to exhaust the headroom first", "",
                "| # | what grows | where | growth | rate | entries | per entry | exhausts headroom in |",
                "|---|---|---|---|---|---|---|---|"]
        for s in suspects:
            c = suspect_cells(s)
            out.append(f"| {c['rank']} | `{_cell(c['key'])}` | {_cell(c['where'])} | {c['growth']} | {c['rate']} | "
                       f"{c['entries']} | {c['per_entry']} | {c['exhausts']} |")
        out.append("")
        capped = [(s, caps_text(s.get("caps"))) for s in suspects]
        capped = [(s, lines) for s, lines in capped if lines]
        if capped:
            out += ["### Suggested caps", ""]
            for s, lines in capped:
                out.append(f"- `{_cell(s['key'])}`:")
                out += [f"  - `{_cell(line.strip())}`" for line in lines]
            out.append("")
    for line in global_caps_text(report.get("caps") or {}):
        out += [f"- `{_cell(line)}`"]
    sites = allocation_sites_text(report)
    if sites:
        out += ["", f"### {sites[0][:1].upper()}{sites[0][1:].rstrip(':')}", ""] + \
            [f"- `{_cell(line.strip())}`" for line in sites[1:]]
    notes = list((report.get("heap") or {}).get("notes") or []) + list(report.get("notes") or [])
    if notes:
        out += ["", "### Notes", ""] + [f"- {_cell(n)}" for n in notes]
    return "\n".join(out).rstrip() + "\n"
