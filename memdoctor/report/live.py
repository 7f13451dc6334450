"""The live view's text: the TTY panel, the plain progress line, the sparkline.

Formatting only: what to show comes from the recorder's shared state and the online verdict
(analysis/online.py), which pipelines/live.py keeps up to date and hands in here.
"""

from __future__ import annotations

from rich.text import Text

from memdoctor.analysis.diagnosis import Diagnosis
from memdoctor.analysis.engine import describe_growth
from memdoctor.analysis.online import OnlineState
from memdoctor.sampling.recorder import RecordingState
from memdoctor.units import format_bytes, format_duration

SPARK = "▁▂▃▄▅▆▇█"
LABEL_WIDTH = 9  # the longest label, "elapsed"/"details"/"verdict", and a space


def sparkline(values: list[float], width: int = 40) -> str:
    """A unicode sparkline of `values`, resampled to `width` columns (bucket maxima)."""
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [max(values[int(i * step):max(int((i + 1) * step), int(i * step) + 1)]) for i in range(width)]
    lo, hi = min(values), max(values)
    if hi <= lo:
        return SPARK[0] * len(values)
    scale = (len(SPARK) - 1) / (hi - lo)
    return "".join(SPARK[int((v - lo) * scale)] for v in values)


def verdict_text(online: OnlineState | None, warmup_s: float = 0.0) -> str:
    """The verdict line: "watching" with the growth so far until the evidence decides, then the verdict."""
    if online is None:
        return "collecting samples" if not warmup_s else f"warm-up ({format_duration(warmup_s)})"
    d = online.diagnosis
    if online.watching:
        text = f"watching, floor {describe_growth(d)} so far"
        if online.note:
            text += f" ({online.note})"
        if online.decide_in_s is not None:
            text += f", can decide in ~{format_duration(online.decide_in_s)}"
        return text + _limit_text(d)
    # A held verdict is shown with its own growth and time to the limit; the latest diagnosis, when it differs,
    # with its own (a held "leak, floor 41.4 MiB/min" was followed by the latest's "limit in ~23h34m").
    shown = online.shown_diagnosis or d
    text = f"{online.shown} ({shown.pattern}), floor {describe_growth(shown)}"
    if online.confidence is not None:
        text += f", confidence {online.confidence:.2f}"  # calibrated: online.alert_confidence
    if d.verdict != online.shown:
        return text + f" (latest: {d.verdict} ({d.pattern}), {describe_growth(d)}{_limit_text(d)})"
    return text + _limit_text(d)


def _limit_text(d: Diagnosis) -> str:
    return f", limit in ~{format_duration(d.time_to_limit_s)}" if d.time_to_limit_s is not None else ""


def panel(state: RecordingState, online: OnlineState | None, *, title: str, elapsed: float,
          duration: float | None, limit_bytes: int | None, warmup_s: float = 0.0) -> Text:
    """The TTY panel as one Text: labelled lines, no table to measure and lay out at each redraw."""
    last = state.last
    details = state.details
    timing = format_duration(elapsed)
    if duration:
        left = format_duration(max(0.0, duration - elapsed))
        timing += f" of {format_duration(duration)} ({left} left)"
    rows: list[tuple[str, str]] = [("target", title), ("elapsed", timing)]
    if last:
        rss_line = f"{format_bytes(last.get('rss'))}"
        if "rss_root" in last:
            rss_line += f"  (root {format_bytes(last['rss_root'])}, {last.get('procs', 1)} process(es))"
        rows.append(("memory", rss_line))
        if limit_bytes:
            rows.append(("limit", f"{format_bytes(limit_bytes)}, {100.0 * last.get('rss', 0) / limit_bytes:.1f}% used"))
    extra = [f"{k} {format_bytes(details[k])}" for k in ("pss", "uss", "swap") if k in details]
    extra += [f"{k} {details[k]}" for k in ("fds", "threads") if k in details]
    if extra:
        rows.append(("details", ", ".join(extra)))
    rows.append(("verdict", _judged(state) + verdict_text(online, warmup_s)))
    # Two styled spans (the title, the sparkline): every span is a segment rich lays out again at each
    # redraw, and bold labels cost ~20 % of a redraw, which the C sampler made a visible share of its CPU
    # (benchmarks/live_view_cost.py, docs/benchmarks.md).
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("memdoctor", style="bold magenta")
    text.append("".join(f"\n{label.ljust(LABEL_WIDTH)}{value}" for label, value in rows))
    text.append("\n" + "trend".ljust(LABEL_WIDTH))
    text.append(sparkline(list(state.series.rss[-400:]), 48), style="cyan")
    return text


def plain_line(state: RecordingState, online: OnlineState | None, *, elapsed: float, warmup_s: float = 0.0) -> str:
    """The progress line printed every few seconds when stderr is not a terminal."""
    last = state.last
    parts = [f"memdoctor: {format_duration(elapsed)}"]
    if last:
        parts.append(f"rss {format_bytes(last.get('rss'))}")
        if last.get("procs", 1) != 1:
            parts.append(f"{last.get('procs')} procs")
    parts.append(_judged(state) + verdict_text(online, warmup_s))
    return " | ".join(parts)


def _judged(state: RecordingState) -> str:
    """Which series the verdict is of, when --metric chose another than RSS (the memory shown)."""
    return "" if state.metric == "rss" else f"of {state.metric}: "
