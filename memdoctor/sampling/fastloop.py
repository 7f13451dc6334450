"""The fast path of the sampling loop: batches of ticks run by the compiled kernel (native.py).

When it applies (Linux, a single process read through /proc, the JSON Lines trace or no file,
a short interval, a recording long enough to repay loading numba), the recorder hands the
ticks between two Python ticks to `FastLoop.run`, which returns at a deadline (the next rescan
of the tree, the next detail sample, the end of the duration, at most `BATCH_S`) or at the
first unusual tick. The Python loop keeps everything else: rescans, details, target exit,
write errors, signals and stop requests. The contract is unchanged: one line per sample, each
with its own write() as the sample is taken, on the same tick grid.

numba is imported and the kernel compiled (or loaded from numba's on-disk cache) in a
background thread while the Python loop already samples; the switch happens at the first
Python tick after it is ready. So a cold machine never waits for the compiler before its
first sample. Stops: a signal sent to the process is delivered to its main thread (Linux
picks the thread group leader when it does not block the signal), which interrupts the
kernel's sleep, so Python's handler runs within the tick; `RecordingState.request_stop` (the
monitor thread's alerts) sets a flag the kernel reads at every wake-up.
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np

# Worth loading numba for (its import and the kernel's load cost ~0.3-0.8 s of CPU, once).
MAX_INTERVAL_S = 0.05
MIN_DURATION_S = 5.0
LOAD_AFTER_S = 0.6  # load numba once the target has stayed a single process past two rescans
BATCH_S = 0.25  # the longest stretch without a Python tick (live view, series, stop checks)
DISABLE_ENV = "MEMDOCTOR_NO_FASTLOOP"  # set to 1 to keep the Python loop (comparisons, debugging)
# The kernel's statuses (native.py; repeated here so that this module does not import numba).
NEXT, AWAKE, WRITE_FAILED = 0, 1, 2


def wanted(interval: float, duration: float | None) -> bool:
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return False
    if not sys.platform.startswith("linux") or sys.byteorder != "little":
        return False
    return interval <= MAX_INTERVAL_S and (duration is None or duration >= MIN_DURATION_S)


class KernelLoader:
    """Imports numba and gets the kernel ready in a daemon thread; `kernel` is set when done."""

    def __init__(self) -> None:
        self.kernel: Any = None
        self.native: Any = None
        self.failed: str | None = None
        self.load_s = 0.0
        self.cold = False
        self._thread = threading.Thread(target=self._load, name="memdoctor-fastloop-loader", daemon=True)

    def start(self) -> KernelLoader:
        self._thread.start()
        return self

    def _load(self) -> None:
        started = time.monotonic()
        # The sampling thread gets the GIL back within 0.5 ms rather than 5 ms while this
        # thread runs numba's Python-heavy import and typing.
        previous = sys.getswitchinterval()
        sys.setswitchinterval(min(previous, 0.0005))
        # numba's first compile or cache load imports all its registries, among them a BLAS check
        # that imports scipy.linalg when scipy is installed: 0.2-0.7 s more, and ~100 ms in one
        # piece holding the GIL (a gap in the trace). The kernel needs no BLAS: scipy is hidden
        # for that import (memdoctor itself never imports scipy).
        hide_scipy = "scipy" not in sys.modules
        if hide_scipy:
            sys.modules["scipy"] = None  # type: ignore[assignment]
        try:
            from memdoctor.sampling import native

            if cache_is_warm(native) is False:
                # A cold cache: compiling here would hold the GIL for seconds in pieces of up to
                # ~0.1 s (gaps in the trace); a helper process compiles on the other core and
                # fills numba's cache, then this thread loads from it.
                self.cold = True
                compile_in_helper()
            native.warm_up()
            # numba leaves ~100,000 long-lived objects (its type registries): every full
            # collection of the cyclic GC walks them (~60 ms), and so does the interpreter's
            # exit, which took 0.2-0.3 s longer. They live as long as the process: out of its way.
            gc.freeze()
            self.native = native
            self.kernel = native.run_batch
        except Exception as exc:  # no numba, no compiler, no cache...: the Python loop goes on
            self.failed = f"{type(exc).__name__}: {exc}"
        finally:
            if hide_scipy and "scipy" in sys.modules and sys.modules["scipy"] is None:
                del sys.modules["scipy"]
            sys.setswitchinterval(previous)
            self.load_s = time.monotonic() - started

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


HELPER_CODE = ("import sys; sys.modules['scipy'] = None\n"
               "from memdoctor.sampling import native; native.warm_up()")


def cache_is_warm(native: Any) -> bool | None:
    """Whether numba's on-disk cache holds the kernel (None: cannot tell with this numba)."""
    try:
        return bool(native.run_batch._cache._cache_file._load_index())
    except Exception:  # numba internals differ: just compile or load
        return None


def compile_in_helper(timeout: float = 120.0) -> None:
    """Compile the kernel into numba's cache in a helper process (a failure is not an error)."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        helper = subprocess.Popen([sys.executable, "-c", HELPER_CODE], env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return
    try:
        helper.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()


class FastLoop:
    """One recording's use of the kernel: its buffers, its stop flag, the bookkeeping."""

    def __init__(self, native: Any, statm_fd: int, writer: Any, template: bytes | None, slots: tuple[int, ...],
                 start_ns: int, interval: float, page_size: int) -> None:
        self.native = native
        self.run_batch = native.run_batch
        n = native
        capacity = int(BATCH_S / interval) + 4
        self.ws = ws = np.zeros(n.SAMPLES + 2 * capacity, dtype=np.int64)
        self.u8 = u8 = np.zeros(n.U8_SIZE, dtype=np.uint8)
        self.writer = writer
        self.out_fd = _writer_fd(writer) if writer is not None else -1
        ws[n.START] = start_ns
        ws[n.INTERVAL] = max(1, round(interval * 1e9))
        ws[n.PAGE] = page_size
        ws[n.STATM_FD] = statm_fd
        ws[n.OUT_FD] = self.out_fd
        pieces = re.split(rb"%\.6f|%d", template) if template is not None else [b""]
        holes = re.findall(rb"%\.6f|%d", template) if template is not None else []
        if (holes[:1] not in ([], [b"%.6f"]) or b"%.6f" in holes[1:] or b"%" in b"".join(pieces)
                or len(pieces) != len(slots) + 1 or len(pieces) > n.MAX_PIECES
                or sum(len(p) for p in pieces) > n.U8_SIZE - n.SEGS):
            raise ValueError("unsupported line template")
        ws[n.NSEG] = len(pieces)
        pos = n.SEGS
        for j, piece in enumerate(pieces):
            u8[pos:pos + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
            pos += len(piece)
            ws[n.SEG_END + j] = pos
        for j, slot in enumerate(slots):
            ws[n.SLOT + j] = slot
        self.taken = 0  # samples taken by the kernel over the recording
        self.calls = 0

    def wake(self) -> None:
        """End the running batch at its next wake-up (from any thread: the monitor's stop)."""
        self.ws[self.native.STOP] = 1

    # -- batches -----------------------------------------------------------------------------

    def run(self, k: int, now_ns: int, deadline_ns: int) -> int:
        """Take ticks from k (due now) until deadline_ns; returns the kernel's status."""
        ws = self.ws
        ws[0] = k  # native.K
        ws[1] = now_ns  # native.NOW
        ws[6] = deadline_ns  # native.DEADLINE
        self.calls += 1
        return self.run_batch(ws, self.u8)

    def position(self) -> tuple[int, float]:
        """(tick index, monotonic seconds) where the last batch handed back."""
        return int(self.ws[0]), int(self.ws[1]) * 1e-9

    def flush(self, series: Any) -> tuple[float, int] | None:
        """Move the batch's samples into the series and the writer's bookkeeping; (t, rss) of the last."""
        ws = self.ws
        count = int(ws[2])
        if count == 0:
            return None
        nbytes = int(ws[3])
        ws[2] = 0
        ws[3] = 0
        base = self.native.SAMPLES
        pairs = ws[base:base + 2 * count].reshape(count, 2).astype(np.float64)
        pairs[:, 0] *= 1e-9
        series.extend(pairs[:, 0], pairs[:, 1])
        self.taken += count
        if nbytes and self.writer is not None:
            self.writer.count_written(nbytes, count)
        return float(pairs[-1, 0]), int(pairs[-1, 1])

    def stop_writing(self) -> None:
        """The trace failed for good (disk full): the kernel goes on sampling without writing."""
        self.ws[self.native.OUT_FD] = -1
        self.out_fd = -1
        self.writer = None

    def restore_after_failed_write(self) -> None:
        """A line went out in part: cut the file back to its last whole line (the Python path retries)."""
        if self.out_fd >= 0:
            self.writer.cut_to_last_line()


def _writer_fd(writer: Any) -> int:
    # Only the JSON Lines writer (traces/writer.py) writes whole lines to a plain descriptor that
    # the compiled loop can share; the batch's bytes are counted afterwards (count_written).
    fd = writer.descriptor() if hasattr(writer, "descriptor") and hasattr(writer, "count_written") else None
    if not isinstance(fd, int):
        raise ValueError("writer without a plain descriptor")
    return fd
