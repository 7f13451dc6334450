"""The sampling loop: one sample per tick of a monotonic clock, written as it is taken.

Ticks are scheduled at start + k * interval (never "sleep(interval)" after the work, which
drifts by the work's cost every time). A tick missed because the machine stalled is skipped,
not caught up in a burst. The hot path is a pread per process and, every 0.1 s, one write of
whole lines. While the target is one process and the interval short, the ticks between two
flushes run in C (`_ticks.c`, an optional extension: ~30 % less CPU than a Python tick, nothing to
load); otherwise in plain Python. A numba-compiled loop was tried and cost more than it saved
(1.2 s of CPU and ~100 MiB of RSS to load the compiler; docs/benchmarks.md). The slower numbers
(PSS/USS/swap, fds, threads) come at a lower cadence. A monitor thread (live view, online
verdict, alerts) reads the shared state; it never touches the file.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memdoctor.sampling.procfs import PAGE_SIZE
from memdoctor.sampling.series import LiveSeries
from memdoctor.sampling.sources import Source, TargetGone
from memdoctor.traces.writer import TraceWriteError, TraceWriter, as_written

if TYPE_CHECKING:
    import numpy as np

try:  # the optional C loop (setup.py builds it where a compiler is available)
    from memdoctor.sampling import _ticks
except ImportError:  # pragma: no cover - a build without a C compiler
    _ticks = None  # type: ignore[assignment]

# How soon a woken sampler gets the GIL back from another thread (Python's default is 5 ms).
SWITCH_INTERVAL_S = 0.0005
# Common lines are written together at most this far apart (see `pending` in record()).
FLUSH_EVERY_S = 0.1


# Sleeps longer than this are cut into pieces, so that a stop asked for by a signal handler (which
# only sets a flag) ends a recording at a long --interval within a quarter of a second.
STOP_CHECK_S = 0.25

# Set to 1 to sample every tick in Python (to compare the two loops, as docs/benchmarks.md does, and a
# way out should the C loop ever misbehave on some kernel).
NO_C_LOOP_ENV = "MEMDOCTOR_NO_FASTLOOP"


def c_loop_available() -> bool:
    """The C tick loop is built and not switched off."""
    return _ticks is not None and os.environ.get(NO_C_LOOP_ENV, "") in ("", "0")


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
    # (elapsed, bytes) of the runtime heap at each detail line that had one (V8's used heap, `run -- node`):
    # the final diagnosis reads it as the trace's heap series, as `analyze` does from the file.
    heap_points: list[tuple[float, float]] = field(default_factory=list)
    # When doctor (or --snapshot-at) began taking heap snapshots of the target (elapsed seconds): the recording writes
    # each as a "heap_snapshot" event line, and every diagnosis of the series judges it up to the first
    # (analysis.engine).
    snapshot_times: list[float] = field(default_factory=list)
    # --metric: the series the live verdict, alerts and the final diagnosis judge. RSS is `series`
    # itself; another one (rss_root, a cgroup's anon, or a detail line's pss, uss, heap...) is kept
    # in `judged` beside it, so that `run --metric pss` judges what `analyze --metric pss` of its
    # trace judges. The live view, the peak and the OOM facts stay RSS's.
    metric: str = "rss"
    judged: LiveSeries | None = None
    # doctor acts on the live verdict the panel shows: with judge_live the live monitor runs (whatever the
    # display) at the alert cadence and leaves its latest OnlineState (analysis.online) in `live` for it.
    judge_live: bool = False
    live: Any = None
    stop_reason: str | None = None
    stopping: bool = False  # a plain attribute: cheaper to test at every tick than Event.is_set()
    stop_event: threading.Event = field(default_factory=threading.Event)

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

    def judged_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(t, values) of the series --metric judges: RSS unless another one was asked for."""
        if self.metric == "rss":
            return self.series.arrays()
        return (self.judged or LiveSeries()).arrays()  # none before the recording starts

    def mark_snapshot(self) -> None:
        """A heap snapshot of the target begins now (the latest sample's time): see snapshot_times."""
        self.snapshot_times.append(self.last_t)

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stopping = True
        self.stop_event.set()


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
    fields = source.fields
    state.fields = fields
    # A judged series other than RSS: its position in the per-tick values (else it is a detail line's key).
    judged = state.judged
    if state.metric != "rss" and judged is None:
        judged = state.judged = LiveSeries()
    judged_at = fields.index(state.metric) + 1 if judged is not None and state.metric in fields else None
    sample_values = source.values
    # Sources that can tell cheaply that their target has exited (a process tree; a container's cgroup cannot)
    # are asked between the pieces of a long sleep: the next tick is then taken at once, and ends the recording.
    target_gone: Callable[[], bool] | None = getattr(source, "gone", None)
    exit_ticked = False
    write_sample = writer.write_sample if writer is not None else None
    # The common sample goes out through one precomputed bytes template: at 100 Hz, building a
    # dict and formatting it generically costs several times the /proc read itself.
    template = writer.template(fields) if writer is not None and source.fast else None
    write_bytes = writer.write_bytes if writer is not None else None
    # A tick does as little as it can: read, parse, note (time, values) in `batch`. Every
    # FLUSH_EVERY_S the batch is committed at once: its lines written together, whole, in one
    # write() (after each sleep a write() cost ~25 us of cold kernel path, a third of a tick's CPU
    # at 10 ms), and its samples appended to the live series under one lock. Code run once per
    # tick right after a wake-up runs with cold caches: the per-tick formatting and series append
    # cost ~50 us of a ~150 us tick at 10 ms, ~5 us each when done ten at a time (benchmarks/
    # watcher_cost.py; docs/benchmarks.md). A crash or kill -9 loses at most that last stretch
    # of the file; the file stays whole lines, and the live view and alerts lag by as much.
    batch: list[tuple[float, tuple[Any, ...]]] = []
    flush_every = FLUSH_EVERY_S if interval < FLUSH_EVERY_S else 0.0
    next_flush = start + flush_every
    next_detail = start if detail_every else math.inf
    # A lone root process is sampled by reading its statm here (sources.single_statm) until the
    # tree's next rescan; anything unusual (a failed or empty read, a zombie) takes values().
    single_statm = getattr(source, "single_statm", None)
    statm_fd = -1
    shortcut_until = -math.inf
    pread = os.pread
    # A source that knows of events (a cgroup's OOM kills) is asked at every tick.
    poll_events = getattr(source, "events", None)
    events: list[tuple[float, str]] = []
    k = 0
    end_reason = "duration"
    error = None
    write_error: str | None = None

    def stop_writing(exc: TraceWriteError) -> None:
        # Stop writing, keep sampling: ending here would stop the command under test (run) for
        # a full disk that is none of its business.
        nonlocal write_error, error, write_sample, write_bytes, template
        write_error = error = str(exc)
        write_sample = write_bytes = template = None
        _say(f"memdoctor: {write_error}; still sampling in memory until the end")

    def commit() -> None:
        """The batch into the live series and, as whole lines, into the trace (one write)."""
        if not batch:
            return
        taken = [(as_written(e), v) for e, v in batch]  # judged as the trace holds them (as_written)
        batch.clear()
        series.extend_pairs(taken)
        if judged is not None and judged_at is not None:
            judged.extend_pairs([(e, (v[judged_at],)) for e, v in taken if v[judged_at] is not None])
        state.last_t, state.last_values = taken[-1]
        if write_bytes is None:
            return
        try:
            if template is not None:
                write_bytes(b"".join([template % (e, *v) for e, v in taken]))
            elif write_sample is not None:
                for e, v in taken:
                    write_sample(_sample_dict(e, v, fields))
        except TraceWriteError as exc:
            stop_writing(exc)

    previous_handlers = _install_stop_handlers(state)
    # A woken sampler waits for the GIL while the monitor thread analyses (~10 ms of numpy and
    # Python every 2 s): by default up to 5 ms, half a tick at 10 ms. Asking for it back within
    # 0.5 ms keeps the sample on its tick; the monitor's analysis pays a few more switches.
    previous_switch = sys.getswitchinterval()
    sys.setswitchinterval(min(previous_switch, SWITCH_INTERVAL_S))
    # The C loop takes the ticks of a lone root between two flushes (where it applies: a short
    # interval, no per-tick events); each call hands back by the next flush, detail sample or
    # rescan, so everything below still happens at the moment it did in Python.
    run_ticks = _ticks.run if c_loop_available() and flush_every > 0 and poll_events is None else None
    end_at = duration if duration is not None else math.inf
    try:
        now = start
        while not state.stopping:
            if run_ticks is not None and now < shortcut_until and now < next_detail:
                k, now, status, taken = run_ticks(statm_fd, PAGE_SIZE, start, interval, k, now,
                                                  min(shortcut_until, next_flush, next_detail), end_at)
                batch.extend(taken)
                if status != _ticks.UNUSUAL:  # else: the tick at `now` is taken below, in Python
                    if status == _ticks.END:
                        commit()
                        _wait_until(start + end_at, state)
                        break
                    target = start + k * interval
                    if target >= next_flush:
                        commit()
                        next_flush = now + flush_every
                    if not state.stopping:  # a signal's handler has run by now
                        delay = target - mono()
                        if delay > 0:
                            sleep(delay)
                        now = mono()
                    continue
            data = b""
            if now < shortcut_until:
                try:
                    data = pread(statm_fd, 128, 0)
                except OSError:
                    data = b""
            if data and not data.startswith(b"0 0 "):
                rss = int(data.split(None, 2)[1]) * PAGE_SIZE
                values: tuple[Any, ...] = (rss, rss, 1)
            else:
                try:
                    values = sample_values(now)
                except TargetGone:
                    end_reason = "target-exited"
                    break
                shortcut = single_statm() if single_statm is not None else None
                statm_fd, shortcut_until = shortcut if shortcut is not None else (-1, -math.inf)
            elapsed = now - start
            if now >= next_detail:
                elapsed = as_written(elapsed)  # the detail line's time as written, for every series it joins
                # The slower numbers ride on a full line of their own, after the batch before it.
                commit()
                try:
                    state.details = source.details()
                except TargetGone:
                    state.details = {}
                next_detail = next_on_grid(next_detail, detail_every, now)  # type: ignore[arg-type]
                if state.details.get("heap") is not None:
                    state.heap_points.append((elapsed, float(state.details["heap"])))
                series.append(elapsed, values[0])
                if judged is not None:
                    # The value this trace line holds: the detail reading replaces the sample's (pss with --pss).
                    value = state.details.get(state.metric)
                    if value is None and judged_at is not None:
                        value = values[judged_at]
                    if value is not None:
                        judged.append(elapsed, float(value))
                state.last_t, state.last_values = elapsed, values
                if write_sample is not None:
                    sample = _sample_dict(elapsed, values, fields)
                    sample.update(state.details)
                    try:
                        write_sample(sample)
                    except TraceWriteError as exc:
                        stop_writing(exc)
            else:
                batch.append((elapsed, values))
                if now >= next_flush:
                    commit()
                    next_flush = now + flush_every
            if poll_events is not None:
                for name in poll_events():
                    commit()  # the event line follows the samples before it
                    at = as_written(elapsed)
                    events.append((at, name))
                    if write_sample is not None:
                        try:
                            write_sample({"t": at, "event": name})
                        except TraceWriteError as exc:
                            stop_writing(exc)
            k += 1
            # Schedule the next tick on the grid; skip ticks that are already past.
            target = start + k * interval
            now = mono()
            if target < now:
                k = int((now - start) / interval) + 1
                target = start + k * interval
            if duration is not None and target - start >= duration - 1e-9:
                commit()
                if _wait_until(start + duration, state, target_gone) and not exit_ticked:
                    # The target ended during the wait for the end: one tick now records its exit (`gate -i 60s
                    # --duration 5s` of a command living 0.5 s read "ran for the whole gate and was stopped by
                    # memdoctor"). Once only: a source whose tick still reads the target ends at the duration.
                    exit_ticked = True
                    now = mono()
                    continue
                break
            delay = target - now
            while delay > STOP_CHECK_S and not state.stopping:
                sleep(STOP_CHECK_S)
                delay = target - mono()
                if target_gone is not None and target_gone():
                    delay = 0.0
                    break
            if delay > 0:
                sleep(delay)
            now = mono()
        else:
            end_reason = state.stop_reason or "stopped"
    except KeyboardInterrupt:  # a SIGINT before the handler was installed, or outside the main thread
        end_reason = "interrupted"
    except TraceWriteError as exc:
        end_reason = "write-error"
        error = str(exc)
    finally:
        # A stop, a signal or the end: what was sampled goes into the series and out to the file.
        commit()
        sys.setswitchinterval(previous_switch)
        _absorb_one_late_stop(previous_handlers)
    if state.stop_reason and end_reason in ("duration", "stopped"):
        end_reason = state.stop_reason
    return RecordingResult(samples=series.count, duration_s=mono() - start, end_reason=end_reason, error=error,
                           write_error=write_error, events=events)


def next_on_grid(due: float, every: float, now: float) -> float:
    """The first time after `now` on the grid due + k * every: the slower numbers stay on their own grid.
    Scheduling from `now` pushed each detail line back by its tick's wake-up; with the C loop, which hands
    back on the tick grid, always one whole tick (the 20th line of a 5 ms recording at 19.085 s)."""
    nxt = due + every
    if nxt <= now:
        nxt = due + (math.floor((now - due) / every) + 1) * every
    return nxt


def _sample_dict(at: float, values: tuple[Any, ...], fields: tuple[str, ...]) -> dict[str, Any]:
    """One trace line; `at` is already the time as written (every caller rounds it once, as_written)."""
    sample = {"t": at, "rss": values[0]}
    sample.update((k, v) for k, v in zip(fields, values[1:], strict=False) if v is not None)
    return sample


def _install_stop_handlers(state: RecordingState) -> dict[int, Any]:
    """Ctrl-C, SIGTERM and SIGHUP end the recording at its next tick.

    The handler only sets plain attributes (never an Event, whose lock the interrupted code may
    hold): an exception raised from a handler lands wherever the main thread happens to be, for
    instance half-way through a write of trace lines or inside a lock's `with`, and a whole-suite
    run under load once saw Ctrl-C end `watch` without its summary. The sleep goes on for at most
    STOP_CHECK_S after the signal."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def stop(signum: int, _frame: object) -> None:
        if state.stop_reason is None:
            state.stop_reason = "terminated" if signum == signal.SIGTERM else "interrupted"
        state.stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            found = signal.signal(sig, stop)
            # A late handler of an earlier recording in this process stands for the handler before it.
            previous[sig] = found.previous.get(sig, signal.SIG_DFL) if isinstance(found, _LateStop) else found
        except (ValueError, OSError):
            pass
    return previous


def _wait_until(end: float, state: RecordingState, target_gone: Callable[[], bool] | None = None) -> bool:
    """Wait for the end of the duration; a monitor's stop (alert, Event) or a signal's (a plain flag, see
    _install_stop_handlers) cuts it short, the latter within STOP_CHECK_S (at --interval 10s Ctrl-C waited up
    to a whole interval for the end), and so does the target's exit, where the source can tell it (True)."""
    while not state.stopping:
        remaining = end - time.monotonic()
        if remaining <= 0:
            return False
        state.stop_event.wait(min(remaining, STOP_CHECK_S))
        if target_gone is not None and target_gone():
            return True
    return False


class _LateStop:
    """The handler left in place once the loop has ended: a stop signal that comes while memdoctor writes
    its summary (a second Ctrl-C, a supervisor's SIGTERM a few ms after the first) is absorbed once, as the
    recording already stops; another one acts as the signal's previous handler would (KeyboardInterrupt,
    or the default action). Before it, the previous handlers were back already: a SIGTERM 1-12 ms after a
    SIGINT killed memdoctor without its summary (21 runs in 24 with the C tick loop, which stops within a
    millisecond of the first signal). The next recording in this process unwraps it (`previous`)."""

    def __init__(self, previous: dict[int, Any]) -> None:
        self.previous = previous
        self.absorbed = False

    def __call__(self, signum: int, _frame: object) -> None:
        if not self.absorbed:
            self.absorbed = True
            return
        _restore_handlers(self.previous)
        signal.raise_signal(signum)


def _absorb_one_late_stop(previous: dict[int, Any]) -> None:
    if not previous:
        return
    late = _LateStop(previous)
    for sig in previous:
        try:
            signal.signal(sig, late)
        except (ValueError, OSError):
            pass


def _restore_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass


def _say(line: str) -> None:
    """One line on stderr, at once (a recording can go on for hours after its trace stopped)."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
