"""Report plots as PNG bytes (matplotlib, Agg canvas: no display, no pyplot global state).

- `memory_png`: memory over time, the troughs (window minima), the fitted floor trend and its
  90% band, zoomed on the data; below it, when the limit or the OOM is far off, the forecast on to
  the limit and the predicted time of OOM;
- `steps_png`: step heights of a job trace (per-job peaks);
- `diff_bars_png`: the top heap diff rows by bytes growth;
- `suspects_png`: one small plot per suspect of its bytes at each snapshot.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from memdoctor.extras import require

MIB = 1024 * 1024


def _figure(width: float = 9.0, height: float = 4.0) -> Any:
    require("plots")  # matplotlib: an optional extra (pip install 'memdoctor[plots]')
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def memory_png(t: np.ndarray, mem: np.ndarray, *, floor_t: np.ndarray | None = None,
               floor_m: np.ndarray | None = None, slope: dict[str, Any] | None = None,
               limit_bytes: int | None = None, time_to_limit_s: float | None = None, title: str = "") -> bytes:
    """Memory over time with troughs and the floor trend with its band, zoomed on the data; when the
    limit is far above the data or the OOM lies beyond the trace, a second panel below draws the
    forecast on to the limit and the predicted OOM (one chart with both squashed the data into its
    bottom and left the OOM "off the chart")."""
    t = np.asarray(t, dtype=float)
    mem = np.asarray(mem, dtype=float)
    t_end = float(t[-1]) if t.size else 0.0
    peak = float(np.nanmax(mem)) if mem.size else 0.0
    oom_t = t_end + time_to_limit_s if time_to_limit_s is not None else None
    line = _trend(t, floor_t, floor_m, slope)
    forecast = bool(limit_bytes) and (oom_t is not None or (limit_bytes or 0) <= 4 * peak)
    zoomed = forecast and ((limit_bytes or 0) > 1.5 * peak or (oom_t is not None and oom_t > t_end))
    fig = _figure(9.0, 6.5 if zoomed else 4.0)
    ax = fig.add_subplot(2, 1, 1) if zoomed else fig.add_subplot(1, 1, 1)
    ax.plot(t, mem / MIB, lw=1.0, color="#4477aa", label="memory (RSS)")
    if floor_t is not None and floor_m is not None and len(floor_t):
        ax.scatter(floor_t, np.asarray(floor_m) / MIB, s=14, color="#228833", zorder=3, label="troughs")
    if line is not None:
        _draw_trend(ax, line, float(t[0]) if t.size else 0.0, t_end)
    if forecast and not zoomed:
        ax.axhline((limit_bytes or 0) / MIB, color="#cc3311", lw=1.2, label=f"limit {(limit_bytes or 0) / MIB:.0f} MiB")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MiB")
    ax.set_title(title or "memory over time")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if zoomed:
        low = fig.add_subplot(2, 1, 2)
        x_max = max(oom_t if oom_t is not None else t_end, t_end)
        low.plot(t, mem / MIB, lw=0.8, color="#4477aa")
        if line is not None:
            _draw_trend(low, line, float(t[0]) if t.size else 0.0, x_max)
        limit_mib = (limit_bytes or 0) / MIB
        low.axhline(limit_mib, color="#cc3311", lw=1.2, label=f"limit {limit_mib:.0f} MiB")
        if oom_t is not None:
            low.axvline(oom_t, color="#cc3311", ls=":", lw=1.2, label=f"predicted OOM at t={oom_t:.0f}s")
        low.axvspan(float(t[0]) if t.size else 0.0, t_end, color="#4477aa", alpha=0.06, label="recorded")
        low.set_xlabel("time (s)")
        low.set_ylabel("MiB")
        low.set_title("forecast: the floor trend on to the limit")
        low.grid(alpha=0.3)
        low.legend(loc="upper left", fontsize=8)
    return _png(fig)


def _trend(t: np.ndarray, floor_t: np.ndarray | None, floor_m: np.ndarray | None,
           slope: dict[str, Any] | None) -> tuple[float, float, dict[str, Any]] | None:
    """(anchor time, anchor memory, slope) of the floor trend line, or None without one."""
    if floor_t is None or floor_m is None or not len(floor_t) or not slope or slope.get("slope_bytes_per_s") is None:
        return None
    anchor_t = float(np.median(floor_t))
    anchor_m = float(np.median(np.asarray(floor_m) - slope["slope_bytes_per_s"] * (np.asarray(floor_t) - anchor_t)))
    return anchor_t, anchor_m, slope


def _draw_trend(ax: Any, line: tuple[float, float, dict[str, Any]], x0: float, x1: float) -> None:
    anchor_t, anchor_m, slope = line
    xs = np.linspace(x0, max(x1, x0 + 1e-9), 50)
    ax.plot(xs, (anchor_m + slope["slope_bytes_per_s"] * (xs - anchor_t)) / MIB, ls="--", color="#228833",
            label="floor trend")
    if slope.get("low") is not None and slope.get("high") is not None:
        low = anchor_m + slope["low"] * (xs - anchor_t)
        high = anchor_m + slope["high"] * (xs - anchor_t)
        ax.fill_between(xs, np.minimum(low, high) / MIB, np.maximum(low, high) / MIB, color="#228833", alpha=0.15,
                        label="90% band")


def suspects_png(suspects: list[dict[str, Any]], limit: int = 6) -> bytes:
    """One small plot per suspect: its bytes at each snapshot (names only, never values)."""
    shown = [s for s in suspects if s.get("bytes_before") is not None and s.get("bytes_after") is not None][:limit]
    cols = min(3, max(1, len(shown)))
    rows = (len(shown) + cols - 1) // cols
    fig = _figure(3.2 * cols, 2.4 * rows)
    for i, s in enumerate(shown, start=1):
        ax = fig.add_subplot(rows, cols, i)
        values = [s["bytes_before"], *([s["bytes_middle"]] if s.get("bytes_middle") is not None else []),
                  s["bytes_after"]]
        ax.plot(range(1, len(values) + 1), np.asarray(values, dtype=float) / MIB, marker="o", color="#aa3377")
        ax.set_xticks(range(1, len(values) + 1))
        ax.set_xlabel("snapshot", fontsize=8)
        ax.set_ylabel("MiB", fontsize=8)
        key = str(s.get("key") or "")
        ax.set_title(f"{s.get('rank', i)}. " + (key if len(key) <= 34 else key[:31] + "..."), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    return _png(fig)


def steps_png(heights_bytes: list[float], title: str = "step heights (per-job peaks)") -> bytes:
    fig = _figure(6.0, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(range(1, len(heights_bytes) + 1), np.asarray(heights_bytes, dtype=float) / MIB, color="#ee7733")
    ax.set_xlabel("step")
    ax.set_ylabel("MiB")
    ax.set_title(title)
    return _png(fig)


def diff_bars_png(rows: list[dict[str, Any]], title: str = "what grows (heap diff)") -> bytes:
    """Horizontal bars of bytes growth for the top rows (names only, never values)."""
    rows = rows[:10]
    fig = _figure(9.0, max(2.0, 0.45 * len(rows) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    labels = [(r["key"] if len(r["key"]) <= 48 else r["key"][:45] + "...") for r in rows][::-1]
    values = [r["bytes_growth"] / MIB for r in rows][::-1]
    ax.barh(range(len(rows)), values, color="#aa3377")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("growth (MiB)")
    ax.set_title(title)
    return _png(fig)
