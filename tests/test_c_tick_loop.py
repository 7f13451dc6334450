"""The recorder's C tick loop (memdoctor/sampling/_ticks.c, issue 18): what it hands back and when.

Each status the recorder relies on is produced by a real call: the end of the duration, the
hand-back before the next flush, an unusual read (a process without memory, a closed
descriptor), and a signal in the middle of its sleep. The recorder's use of it (the same trace
as the Python loop) is in test_lean_sampling.py.
"""

from __future__ import annotations

import itertools
import os
import signal
import time

import pytest

from memdoctor.sampling import recorder
from memdoctor.sampling.procfs import PAGE_SIZE

ticks = pytest.importorskip("memdoctor.sampling._ticks") if os.environ.get(recorder.NO_C_LOOP_ENV) else None
if ticks is None:
    from memdoctor.sampling import _ticks as ticks  # CI builds it: its absence is a failure, not a skip


@pytest.fixture
def statm_fd():
    fd = os.open(f"/proc/{os.getpid()}/statm", os.O_RDONLY)
    yield fd
    os.close(fd)


def _own_rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def test_the_c_loop_is_built_and_used_by_default():
    assert recorder.c_loop_available() or os.environ.get(recorder.NO_C_LOOP_ENV)


def test_it_samples_on_the_grid_until_the_duration(statm_fd):
    start = time.monotonic()
    k, now, status, samples = ticks.run(statm_fd, PAGE_SIZE, start, 0.005, 0, start, float("inf"), 0.2)
    assert status == ticks.END
    assert k * 0.005 >= 0.2 - 1e-9  # the next tick is past the duration
    assert now >= start
    times = [t for t, _ in samples]
    assert times[0] == 0.0
    assert all(b > a for a, b in itertools.pairwise(times))
    assert all(abs(t / 0.005 - round(t / 0.005)) < 0.9 for t in times)  # on the grid, within a tick's slack
    assert len(samples) >= 20  # 40 ticks asked; a loaded machine may skip some, never bunch them
    rss = _own_rss()
    assert all(v[1] == v[0] and v[2] == 1 and abs(v[0] - rss) < 64 << 20 for _, v in samples)


def test_it_hands_back_before_the_next_tick_at_or_past_the_hand_back_time(statm_fd):
    start = time.monotonic()
    k, now, status, samples = ticks.run(statm_fd, PAGE_SIZE, start, 0.01, 0, start, start + 0.05, float("inf"))
    assert status == ticks.HANDBACK
    assert start + k * 0.01 >= start + 0.05 - 1e-9
    assert now < start + k * 0.01 or now - (start + k * 0.01) < 0.01  # it did not sleep to that tick
    assert 1 <= len(samples) <= 5


def test_a_process_without_memory_is_handed_back_untaken(tmp_path):
    gone = tmp_path / "statm"
    gone.write_text("0 0 0 0 0 0 0\n")  # what statm reads for an exiting process or a zombie
    fd = os.open(gone, os.O_RDONLY)
    try:
        start = time.monotonic()
        k, now, status, samples = ticks.run(fd, PAGE_SIZE, start, 0.01, 7, start, float("inf"), float("inf"))
    finally:
        os.close(fd)
    assert (k, now, status, samples) == (7, start, ticks.UNUSUAL, [])


def test_a_failed_read_is_handed_back(statm_fd):
    fd = os.dup(statm_fd)
    os.close(fd)  # a descriptor that no longer reads: EBADF, as ESRCH for a process that exited
    start = time.monotonic()
    _k, _now, status, samples = ticks.run(fd, PAGE_SIZE, start, 0.01, 0, start, float("inf"), float("inf"))
    assert status == ticks.UNUSUAL and samples == []


def test_a_signal_cuts_the_sleep_short_and_its_handler_runs(statm_fd):
    """Ctrl-C must end a recording at once: the handler (Python) only runs once the C loop returns.

    The signal comes 0.3 s into a 1 s sleep (a signal that lands while the loop runs rather than
    sleeps waits for the next hand-back, at most one flush: recorder.FLUSH_EVERY_S)."""
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, _frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        start = time.monotonic()
        k, now, status, samples = ticks.run(statm_fd, PAGE_SIZE, start, 1.0, 0, start, float("inf"), 30.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert status == ticks.SIGNAL
    assert fired == [signal.SIGALRM]
    assert k == 1 and len(samples) == 1  # tick 1 is still to take: the recorder sleeps to it again
    assert now < start + 1.0


def test_a_nan_interval_is_refused():
    with pytest.raises(ValueError):
        ticks.run(0, PAGE_SIZE, 0.0, float("nan"), 0, 0.0, 1.0, 1.0)
