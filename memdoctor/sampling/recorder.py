"""The sampling loop: one sample per tick of a monotonic clock, written as it is taken.

Ticks are scheduled at start + k * interval (never "sleep(interval)" after the work, which
drifts by the work's cost every time). A tick missed because the machine stalled is skipped,
not caught up in a burst. The hot path is a few preads and one write; the slower numbers
(PSS/USS/swap, fds, threads) come at a lower cadence. A monitor thread (live view, online
verdict, alerts) reads the shared state; it never touches the file.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memdoctor.sampling.series import LiveSeries
from memdoctor.sampling.sources import Source, TargetGone
from memdoctor.traces.writer import TraceWriteError, TraceWriter


class StopRecording(Exception):
    """Raised from a signal handler to end the recording cleanly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RecordingState:
    """What the monitor thread reads while the recording runs."""

    started_mono: float = 0.0
    series: LiveSeries = field(default_factory=LiveSeries)
    last: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    stop_reason: str | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_event.set()


@dataclass
class RecordingResult:
    samples: int
    duration_s: float
    end_reason: str  # "duration", "target-exited", "interrupted", "terminated", "alert", "write-error"
    error: str | None = None
    events: list[tuple[float, str]] = field(default_factory=list)


def record(
    source: Source,
    writer: TraceWriter | None,
    *,
    interval: float,
    duration: float | None,
    detail_every: float | None,
    state: RecordingState,
    on_event: Callable[[float, str], None] | None = None,
) -> RecordingResult:
    """Sample `source` every `interval` seconds until `duration`, the target's exit or a stop."""
    sleep = time.sleep
    mono = time.monotonic
    start = mono()
    state.started_mono = start
    series = state.series
    write = writer.write_sample if writer is not None else None
    next_detail = start if detail_every else math.inf
    k = 0
    end_reason = "duration"
    error = None
    previous_handlers = _install_stop_handlers()
    try:
        while True:
            if state.stop_event.is_set():
                end_reason = state.stop_reason or "stopped"
                break
            now = mono()
            elapsed = now - start
            try:
                rss, extra = source.sample()
            except TargetGone:
                end_reason = "target-exited"
                break
            sample = {"t": round(elapsed, 6), "rss": rss, **extra}
            if now >= next_detail:
                try:
                    state.details = source.details()
                except TargetGone:
                    state.details = {}
                sample.update(state.details)
                next_detail = now + detail_every  # type: ignore[operator]
            if write is not None:
                write(sample)
            series.append(elapsed, rss)
            state.last = sample
            # Schedule the next tick on the grid; skip ticks that are already past.
            k += 1
            target = start + k * interval
            now = mono()
            if target < now:
                k = int((now - start) / interval) + 1
                target = start + k * interval
            if duration is not None and target - start >= duration - 1e-9:
                remaining = start + duration - now
                if remaining > 0:
                    state.stop_event.wait(remaining)  # a monitor's stop (alert) cuts it short
                break
            delay = target - now
            if delay > 0:
                sleep(delay)
    except (KeyboardInterrupt, StopRecording) as exc:
        end_reason = exc.reason if isinstance(exc, StopRecording) else "interrupted"
    except TraceWriteError as exc:
        end_reason = "write-error"
        error = str(exc)
    finally:
        _restore_handlers(previous_handlers)
    if state.stop_reason and end_reason in ("duration", "stopped"):
        end_reason = state.stop_reason
    return RecordingResult(samples=series.count, duration_s=mono() - start, end_reason=end_reason, error=error)


def _raise_stop(signum: int, _frame: object) -> None:
    raise StopRecording("terminated" if signum == signal.SIGTERM else "interrupted")


def _install_stop_handlers() -> dict[int, Any]:
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, _raise_stop)
        except (ValueError, OSError):
            pass
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass
