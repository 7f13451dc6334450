"""The report as one self-contained HTML file: inline CSS, plots embedded as base64 PNG, no scripts."""

from __future__ import annotations

import base64
from html import escape
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

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; background: #fff; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; }
.verdict { font-size: 1.2em; font-weight: bold; padding: .4em .8em; border-radius: 4px; display: inline-block; }
.leak { background: #fbe3e0; color: #a11; } .no-leak { background: #e2f5e4; color: #161; }
.inconclusive { background: #fff4d6; color: #852; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } code { font-size: .95em; } img { max-width: 100%; border: 1px solid #ddd; }
ul.caps { margin: 0; padding-left: 1.2em; }
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></p>'


def render(report: dict[str, Any], plots: dict[str, bytes] | None = None) -> str:
    plots = plots or {}
    d = report.get("diagnosis")
    trace = report.get("trace") or {}
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>memdoctor report</title>", f"<style>{_CSS}</style></head><body>", "<h1>memdoctor report</h1>"]
    if trace.get("name"):
        parts.append(f"<p>Trace: <code>{escape(str(trace['name']))}</code></p>")
    verdict = d["verdict"] if d else "inconclusive"
    parts.append(f'<p class="verdict {escape(verdict)}">{escape(verdict_text(d))}</p>')
    facts = []
    if memory := memory_text(report):
        facts.append(f"limit {memory}")
    if time_left := time_to_limit_text(d):
        facts.append(f"time to limit {time_left}")
    if facts:
        parts.append("<p>" + escape("; ".join(facts)) + "</p>")
    if d and d.get("evidence"):
        parts.append("<ul>" + "".join(f"<li>{escape(e)}</li>" for e in d["evidence"]) + "</ul>")
    if "memory" in plots:
        parts.append(_img(plots["memory"], "memory over time with troughs, floor trend, limit and predicted OOM"))
    if "steps" in plots:
        parts.append(_img(plots["steps"], "step heights"))
    suspects = report.get("suspects") or []
    if suspects:
        parts.append("<h2>Suspects, soonest to exhaust the headroom first</h2><table><tr>" + "".join(
            f"<th>{h}</th>" for h in ("#", "what grows", "where", "growth", "rate", "entries", "per entry",
                                      "exhausts headroom in", "suggested caps")) + "</tr>")
        for s in suspects:
            c = suspect_cells(s)
            caps = "".join(f"<li><code>{escape(line.strip())}</code></li>" for line in caps_text(s.get("caps")))
            parts.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in (c["rank"],)) +
                         f"<td><code>{escape(c['key'])}</code></td>" +
                         "".join(f"<td>{escape(c[k])}</td>" for k in ("where", "growth", "rate", "entries",
                                                                       "per_entry", "exhausts")) +
                         f'<td><ul class="caps">{caps}</ul></td></tr>')
        parts.append("</table>")
    if "suspects" in plots:
        parts.append(_img(plots["suspects"], "each suspect's bytes at each snapshot"))
    if "diff" in plots:
        parts.append(_img(plots["diff"], "top heap diff rows by bytes growth"))
    global_caps = global_caps_text(report.get("caps") or {})
    if global_caps:
        parts.append("<h2>Runtime flags</h2><ul>" + "".join(f"<li><code>{escape(x)}</code></li>"
                                                           for x in global_caps) + "</ul>")
    sites = allocation_sites_text(report)
    if sites:
        parts.append(f"<h2>Allocation sites</h2><p>{escape(sites[0])}</p><ul>" +
                     "".join(f"<li><code>{escape(x.strip())}</code></li>" for x in sites[1:]) + "</ul>")
    notes = list((report.get("heap") or {}).get("notes") or []) + list(report.get("notes") or [])
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
