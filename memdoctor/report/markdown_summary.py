"""A Markdown summary of a gate run, for $GITHUB_STEP_SUMMARY or a PR comment."""

from __future__ import annotations

from memdoctor.analysis.gate import GateResult
from memdoctor.redact import redact_command, redact_text
from memdoctor.report.live import sparkline
from memdoctor.units import format_bytes, format_duration, format_rate


def _cell(text: str) -> str:
    return redact_text(text).replace("|", "\\|").replace("\n", " ")


def gate_markdown(result: GateResult, *, title: str, memory: list[float] | None = None,
                  plot_path: str | None = None) -> str:
    status = "passed" if result.passed else "FAILED"
    lines = [f"### memdoctor gate {status}: {_cell(redact_command(title))}", ""]
    m = result.measurements
    if m is not None:
        d = m.diagnosis
        ttl = format_duration(d.time_to_limit_s) if d.time_to_limit_s is not None else "n/a"
        lines += [
            f"**{d.verdict}** ({d.pattern}), floor {format_rate(d.growth_bytes_per_s)}, peak "
            f"{format_bytes(m.peak_bytes)}, time to limit {ttl}, {d.samples} samples over "
            f"{format_duration(d.duration_s)}",
            "",
        ]
    if memory:
        lines += [f"`{sparkline(memory, 60)}`", ""]
    if plot_path:
        lines += [f"Plot: `{plot_path}`", ""]
    lines += ["| check | result | details |", "|---|---|---|"]
    for check in result.checks:
        lines.append(f"| {check.name} | {'pass' if check.passed else '**FAIL**'} | {_cell(check.message)} |")
    if m is not None and m.diagnosis.evidence:
        lines += ["", "<details><summary>evidence</summary>", ""]
        lines += [f"- {_cell(e)}" for e in m.diagnosis.evidence]
        lines += ["", "</details>"]
    for note in result.notes:
        lines += ["", f"_{_cell(note)}_"]
    return "\n".join(lines) + "\n"


def append_summary(path: str, text: str) -> None:
    """Append to the CI's step summary file, never through a link another user could plant."""
    from memdoctor.output_files import open_output

    # theirs_ok: under `sudo -E`, $GITHUB_STEP_SUMMARY is the runner's own file, written for the runner to read.
    with open(open_output(path, mode=0o644, truncate=False, append=True, theirs_ok=True), "a",
              encoding="utf-8") as fh:
        fh.write(text + "\n")
