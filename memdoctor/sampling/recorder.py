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
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memdoctor.sampling import fastloop
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
    # The latest sample as the hot loop keeps it: its time, and (rss, *values of `fields`).
    fields: tuple[str, ...] = ()
    last_t: float = 0.0
    last_values: tuple[Any, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    stop_reason: str | None = None
    stopping: bool = False  # a plain attribute: cheaper to test at every tick than Event.is_set()
    stop_event: threading.Event = field(default_factory=threading.Event)
    # Set while the compiled loop runs: cuts its sleep short (a stop lands within the tick).
    wake: Callable[[], None] | None = None
    fast_values: tuple[int, ...] = ()  # what the compiled loop's values stand for (fastloop.py)

    @property
    def last(self) -> dict[str, Any]:
        """The latest sample as a dict (built on demand, for the live view and the summary)."""
        values = self.last_values
        if not values:
            return {}
        sample = {"t": self.last_t, "rss": values[0]}
        sample.update(zip(self.fields, values[1:], strict=False))
        sample.update(self.details)
        return sample

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stopping = True
        self.stop_event.set()
        wake = self.wake
        if wake is not None:
            wake()


@dataclass
class RecordingResult:
    samples: int
    duration_s: float
    end_reason: str  # "duration", "target-exited", "interrupted", "terminated", "alert", "write-error"
    error: str | None = None
    # The trace could not be written (disk full...): sampling went on in memory, the file keeps
    # what was written before. The command under test is never stopped for our disk's sake.
    write_error: str | None = None
    events: list[tuple[float, str]] = field(default_factory=list)
    compiled_samples: int = 0  # samples taken by the compiled loop (fastloop.py)


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
    start_ns = time.monotonic_ns()
    start = start_ns * 1e-9
    state.started_mono = start
    series = state.series
    fields = source.fields
    state.fields = fields
    sample_values = source.values
    # A source that knows of events (a cgroup's OOM kills) is asked at every Python tick.
    poll_events = getattr(source, "events", None)
    events: list[tuple[float, str]] = []
    write_sample = writer.write_sample if writer is not None else None
    # The common sample goes out through one precomputed bytes template: at 100 Hz, building a
    # dict and formatting it generically costs several times the /proc read itself.
    template = writer.template(fields) if writer is not None and source.fast else None
    write_bytes = writer.write_bytes if writer is not None else None
    next_detail = start if detail_every else math.inf
    end = start + duration - 1e-9 if duration is not None else math.inf
    # The compiled loop (fastloop.py) takes the ticks between Python ticks once numba is ready.
    # numba is loaded only for a target that is still one process after the first rescans (a
    # tree's children join at their second sighting): a tree would never use it.
    fast_spec = getattr(source, "fast_single", None)
    load_at = math.inf
    if fast_spec is not None and (writer is None or template is not None) and fastloop.wanted(interval, duration):
        load_at = start + fastloop.LOAD_AFTER_S
    loader: Any = None
    fast: Any = None
    fast_until = -math.inf  # the compiled loop may take the ticks before this time
    batch_s = fastloop.BATCH_S
    python_every = getattr(source, "python_ticks_every", lambda: None)()
    if python_every is not None:
        batch_s = min(batch_s, python_every)
    k = 0
    end_reason = "duration"
    error = None
    write_error: str | None = None
    previous_handlers = _install_stop_handlers()
    try:
        now = start
        while not state.stopping:
            python_tick = True
            if now < fast_until:
                status = fast.run(k, int(now * 1e9), int(min(fast_until, end) * 1e9))
                _flush_fast(fast, state)
                k, now = fast.position()
                if status == fastloop.NEXT:  # tick k is the next one, not yet waited for
                    python_tick = False
                else:  # AWAKE or WRITE_FAILED: the Python path takes tick k, due now
                    if status == fastloop.WRITE_FAILED:
                        fast.restore_after_failed_write()
                    fast_until = -math.inf
            if python_tick:
                try:
                    values = sample_values(now)
                except TargetGone:
                    end_reason = "target-exited"
                    break
                elapsed = now - start
                try:
                    if now >= next_detail:
                        try:
                            state.details = source.details()
                        except TargetGone:
                            state.details = {}
                        next_detail = now + detail_every  # type: ignore[operator]
                        if write_sample is not None:
                            sample = {"t": round(elapsed, 6), "rss": values[0]}
                            sample.update((k_, v) for k_, v in zip(fields, values[1:], strict=False) if v is not None)
                            sample.update(state.details)
                            write_sample(sample)
                    elif template is not None:
                        write_bytes(template % (elapsed, *values))  # type: ignore[misc]
                    elif write_sample is not None:
                        sample = {"t": round(elapsed, 6), "rss": values[0]}
                        sample.update((k_, v) for k_, v in zip(fields, values[1:], strict=False) if v is not None)
                        write_sample(sample)
                except TraceWriteError as exc:
                    # Stop writing, keep sampling: ending here would stop the command under test
                    # (run) for a full disk that is none of its business.
                    write_error = error = str(exc)
                    write_sample = write_bytes = template = None
                    if fast is not None:
                        fast.stop_writing()
                    _say(f"memdoctor: {write_error}; still sampling in memory until the end")
                series.append(elapsed, values[0])
                if poll_events is not None:
                    for name in poll_events():
                        events.append((elapsed, name))
                        if write_sample is not None:
                            try:
                                write_sample({"t": round(elapsed, 6), "event": name})
                            except TraceWriteError as exc:
                                write_error = error = str(exc)
                                write_sample = write_bytes = template = None
                                _say(f"memdoctor: {write_error}; still sampling in memory until the end")
                state.last_t = elapsed
                state.last_values = values
                k += 1
                if now >= load_at and fast_spec() is not None:  # type: ignore[misc]
                    load_at = math.inf
                    loader = fastloop.KernelLoader().start()
                if loader is not None:
                    if fast is None and loader.kernel is not None:
                        # Stays None while the tree has children (tried again at the next Python tick).
                        fast = _start_fast(loader, fast_spec, writer, template, start_ns, interval, state)
                    elif fast is None and loader.failed is not None:
                        loader = None  # no numba, or it failed: the Python loop it is
                    if fast is not None:
                        # Until the next Python tick (rescan, details, live view); only for the root alone.
                        fast_until = min(next_detail, now + batch_s) if fast_spec() is not None else -math.inf
            # Schedule the next tick on the grid; skip ticks that are already past.
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
                now = mono()
        else:
            end_reason = state.stop_reason or "stopped"
    except (KeyboardInterrupt, StopRecording) as exc:
        end_reason = exc.reason if isinstance(exc, StopRecording) else "interrupted"
    except TraceWriteError as exc:
        end_reason = "write-error"
        error = str(exc)
    finally:
        if fast is not None:
            _flush_fast(fast, state)  # a signal may have cut in between a batch and its flush
            state.wake = None
        _restore_handlers(previous_handlers)
    if state.stop_reason and end_reason in ("duration", "stopped"):
        end_reason = state.stop_reason
    return RecordingResult(samples=series.count, duration_s=mono() - start, end_reason=end_reason, error=error,
                           write_error=write_error, events=events,
                           compiled_samples=fast.taken if fast is not None else 0)


def _say(line: str) -> None:
    """One line on stderr, at once (a recording can go on for hours after its trace stopped)."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _start_fast(loader: Any, fast_spec: Callable[[], Any], writer: TraceWriter | None, template: bytes | None,
                start_ns: int, interval: float, state: RecordingState) -> Any:
    """The compiled loop for this recording once its kernel is loaded, else None."""
    from memdoctor.sampling.procfs import PAGE_SIZE

    spec = fast_spec()
    if loader.kernel is None or spec is None:
        return None
    statm_fd, values = spec
    slots = (-2, *values) if template is not None else ()  # -2: the time
    try:
        fast = fastloop.FastLoop(loader.native, statm_fd, writer, template, slots, start_ns, interval, PAGE_SIZE)
    except (ValueError, OSError) as exc:  # a line the kernel cannot build, a writer without a descriptor
        loader.kernel = None
        loader.failed = str(exc)
        return None
    state.wake = fast.wake
    state.fast_values = values
    return fast


def _flush_fast(fast: Any, state: RecordingState) -> None:
    last = fast.flush(state.series)
    if last is not None:
        t, rss = last
        state.last_t = t
        state.last_values = tuple(rss if v == -1 else v for v in state.fast_values)


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
