"""The compiled sampling loop (numba): a batch of ticks of one process, with no Python per tick.

At 10 ms the Python loop spends more CPU around the system calls than in them. This kernel
does what the Python loop does for the common sample of a single process, in machine code:
sleep until the tick on the monotonic grid, pread /proc/PID/statm, format the JSON line, write
it with its own write(). It runs until a deadline the caller chose (the next rescan of the
tree, the next detail sample, the end of the duration) and hands anything unusual back to the
Python loop at the tick where it happened: a failed or empty read, a zombie, a failed write,
a signal (it interrupts the sleep) or a stop request (a flag in `ws`, set from any thread).

The libc functions are declared as external symbols (resolved when the machine code is
loaded), not ctypes pointers, so numba can cache the compiled kernel on disk.

All state goes through two arrays (fewer arguments: numba's dispatch costs per argument):
`ws` (int64, layout below) and `u8` (the statm buffer, the line being built and the constant
pieces of the line).
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit, types
from numba.core.errors import NumbaWarning

warnings.filterwarnings("ignore", category=NumbaWarning)  # e.g. a cache directory that is not writable

_ptr = types.uintp
_clock_gettime = types.ExternalFunction("clock_gettime", types.int32(types.int32, _ptr))
_clock_nanosleep = types.ExternalFunction("clock_nanosleep", types.int32(types.int32, types.int32, _ptr, _ptr))
_pread = types.ExternalFunction("pread", types.intp(types.int32, _ptr, types.uintp, types.int64))
_write = types.ExternalFunction("write", types.intp(types.int32, _ptr, types.uintp))

CLOCK_MONOTONIC = 1  # Linux
TIMER_ABSTIME = 1

# Status returned by run_batch.
NEXT = 0  # ticks up to ws[K] - 1 are taken; tick ws[K] is next and not yet waited for
AWAKE = 1  # tick ws[K] is due (woken at ws[NOW]) and not taken: the Python loop takes it
WRITE_FAILED = 2  # the line of tick ws[K] did not go out whole (ws[WRITTEN] bytes did)

# ws layout (int64 slots).
K = 0  # in/out: the tick index
NOW = 1  # in/out: monotonic ns when tick K was woken (in: the tick K is due now)
COUNT = 2  # out: samples taken by this call
BYTES = 3  # out: bytes written by this call (whole lines)
START = 4  # in: monotonic ns of tick 0
INTERVAL = 5  # in: ns between ticks
DEADLINE = 6  # in: no tick at or after this monotonic ns is taken here
PAGE = 7  # in: page size
STATM_FD = 8  # in
OUT_FD = 9  # in: -1 = no file
STOP = 10  # in: set to 1 (from any thread) to end the batch at the next wake-up
NSEG = 11  # in: pieces of the line (values go between them)
WRITTEN = 12  # out, after WRITE_FAILED: what write() returned
TIMESPEC = 13  # scratch: struct timespec (2 slots)
SEG_END = 16  # in: 6 slots, end offset in u8 of each piece
SLOT = 22  # in: 6 slots, the value after each piece: -2 = t, -1 = rss, >= 0 a constant
WOKE = 28  # out: 1 when a signal or a stop request cut the batch short
MAX_PIECES = 6
SAMPLES = 32  # out: (elapsed ns, rss bytes) per sample taken
HEADER_SLOTS = SAMPLES

# u8 layout.
BUF = 0  # the statm read
BUF_SIZE = 128
LINE = 256  # the line being built
LINE_SIZE = 256
SEGS = 512  # the constant pieces of the line, back to back
U8_SIZE = 1024


@njit(cache=True, nogil=True)
def _now(ws, tsp):
    _clock_gettime(CLOCK_MONOTONIC, tsp)
    return ws[TIMESPEC] * 1000000000 + ws[TIMESPEC + 1]


@njit(cache=True, nogil=True)
def _put_uint(u8, pos, value):
    """Decimal digits of value >= 0 at u8[pos:], returns the new position."""
    if value == 0:
        u8[pos] = 48
        return pos + 1
    n = 0
    v = value
    while v > 0:
        n += 1
        v //= 10
    end = pos + n
    v = value
    i = end - 1
    while v > 0:
        u8[i] = 48 + v % 10
        v //= 10
        i -= 1
    return end


@njit(cache=True, nogil=True)
def run_batch(ws, u8):
    """Take ticks from ws[K] (due now, woken at ws[NOW]) until the deadline or something unusual."""
    base = ws.ctypes.data
    tsp = base + TIMESPEC * 8
    u8p = u8.ctypes.data
    start = ws[START]
    interval = ws[INTERVAL]
    deadline = ws[DEADLINE]
    page = ws[PAGE]
    statm_fd = ws[STATM_FD]
    out_fd = ws[OUT_FD]
    nseg = ws[NSEG]
    capacity = (ws.size - SAMPLES) // 2
    k = ws[K]
    now = ws[NOW]
    count = 0
    nbytes = 0
    ws[COUNT] = 0
    ws[BYTES] = 0
    ws[WOKE] = 0
    while True:
        # Tick k is due: read the resident pages (second field of statm).
        got = _pread(statm_fd, u8p + BUF, BUF_SIZE, 0)
        if got <= 3 or (u8[BUF] == 48 and u8[BUF + 1] == 32 and u8[BUF + 2] == 48 and u8[BUF + 3] == 32):
            ws[K] = k  # gone, unreadable, or "0 0 ..." (maybe a zombie): the Python loop decides
            ws[NOW] = now
            return AWAKE
        i = BUF
        end = BUF + got
        while i < end and u8[i] != 32:
            i += 1
        i += 1
        pages = 0
        while i < end and 48 <= u8[i] <= 57:
            pages = pages * 10 + (u8[i] - 48)
            i += 1
        rss = pages * page
        elapsed = now - start
        # The line: piece, value, piece, value, ... piece.
        pos = LINE
        seg_start = SEGS
        for j in range(nseg):
            seg_end = ws[SEG_END + j]
            for s in range(seg_start, seg_end):
                u8[pos] = u8[s]
                pos += 1
            seg_start = seg_end
            if j < nseg - 1:
                slot = ws[SLOT + j]
                if slot == -2:  # t in seconds with 6 decimals, as "%.6f" writes it
                    us = (elapsed + 500) // 1000
                    pos = _put_uint(u8, pos, us // 1000000)
                    u8[pos] = 46
                    frac = us % 1000000
                    d = 100000
                    for _ in range(6):
                        u8[pos + 1] = 48 + (frac // d) % 10
                        pos += 1
                        d //= 10
                    pos += 1
                elif slot == -1:
                    pos = _put_uint(u8, pos, rss)
                else:
                    pos = _put_uint(u8, pos, slot)
        length = pos - LINE
        if out_fd >= 0:
            written = _write(out_fd, u8p + LINE, length)
            if written != length:
                ws[K] = k
                ws[NOW] = now
                ws[WRITTEN] = written
                return WRITE_FAILED
            nbytes += length
        ws[SAMPLES + 2 * count] = elapsed
        ws[SAMPLES + 2 * count + 1] = rss
        count += 1
        ws[COUNT] = count
        ws[BYTES] = nbytes
        # The next tick on the grid; ticks already past are skipped, not caught up.
        k += 1
        target = start + k * interval
        now = _now(ws, tsp)
        if target < now:
            k = (now - start) // interval + 1
            target = start + k * interval
        if target >= deadline or count >= capacity:
            ws[K] = k
            ws[NOW] = now
            return NEXT
        # Sleep until the tick's absolute time. A signal to the process lands in this (the
        # main) thread and interrupts the sleep (EINTR); a stop request sets ws[STOP].
        ws[TIMESPEC] = target // 1000000000
        ws[TIMESPEC + 1] = target % 1000000000
        err = _clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, tsp, 0)
        now = _now(ws, tsp)
        if err != 0 or ws[STOP] != 0 or now < target:
            ws[WOKE] = 1
            ws[K] = k
            ws[NOW] = now
            return NEXT
        if now >= deadline:
            ws[K] = k
            ws[NOW] = now
            return AWAKE


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel for the array types the loop passes."""
    ws = np.zeros(SAMPLES + 2 * 4, dtype=np.int64)
    u8 = np.zeros(U8_SIZE, dtype=np.uint8)
    ws[STATM_FD] = -1
    ws[OUT_FD] = -1
    ws[NSEG] = 1
    ws[SEG_END] = SEGS
    run_batch(ws, u8)  # pread(-1) fails at once: AWAKE
