"""Report plots as PNG bytes (matplotlib, Agg canvas: no display, no pyplot global state).

- `memory_png`: memory over time, the troughs (window minima), the fitted floor trend and its
  95% band, the limit line and the predicted time of OOM;
- `steps_png`: step heights of a job trace (per-job peaks);
- `diff_bars_png`: the top heap diff rows by bytes growth.
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
    """Memory over time with troughs, the floor trend and band, the limit and the predicted OOM."""
    t = np.asarray(t, dtype=float)
    mem = np.asarray(mem, dtype=float)
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(t, mem / MIB, lw=1.0, color="#4477aa", label="memory (RSS)")
    t_end = float(t[-1]) if t.size else 0.0
    x_max = t_end
    if floor_t is not None and floor_m is not None and len(floor_t):
        ax.scatter(floor_t, np.asarray(floor_m) / MIB, s=14, color="#228833", zorder=3, label="troughs")
        if slope and slope.get("slope_bytes_per_s") is not None:
            oom_t = t_end + time_to_limit_s if time_to_limit_s is not None else None
            if oom_t is not None and oom_t <= 4 * max(t_end, 1e-9):
                x_max = oom_t
            xs = np.linspace(float(t[0]), x_max, 50)
            anchor_t = float(np.median(floor_t))
            anchor_m = float(np.median(np.asarray(floor_m) - slope["slope_bytes_per_s"] * (np.asarray(floor_t)
                                                                                             - anchor_t)))
            line = anchor_m + slope["slope_bytes_per_s"] * (xs - anchor_t)
            ax.plot(xs, line / MIB, ls="--", color="#228833", label="floor trend")
            if slope.get("low") is not None and slope.get("high") is not None:
                low = anchor_m + slope["low"] * (xs - anchor_t)
                high = anchor_m + slope["high"] * (xs - anchor_t)
                ax.fill_between(xs, np.minimum(low, high) / MIB, np.maximum(low, high) / MIB, color="#228833",
                                alpha=0.15, label="90% band")
    if limit_bytes and (time_to_limit_s is not None or limit_bytes <= 4 * float(np.nanmax(mem))):
        ax.axhline(limit_bytes / MIB, color="#cc3311", lw=1.2, label=f"limit {limit_bytes / MIB:.0f} MiB")
    if time_to_limit_s is not None:
        oom_t = t_end + time_to_limit_s
        if oom_t <= x_max + 1e-9:
            ax.axvline(oom_t, color="#cc3311", ls=":", lw=1.2, label=f"predicted OOM at t={oom_t:.0f}s")
        else:
            ax.annotate(f"OOM predicted at t={oom_t:.0f}s (off the chart)", xy=(0.99, 0.02),
                        xycoords="axes fraction", ha="right", fontsize=8, color="#cc3311")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MiB")
    ax.set_title(title or "memory over time")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
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
