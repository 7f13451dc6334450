"""An in-memory copy of the recorded series for the live view and the final analysis.

Appending must cost next to nothing at 1 kHz, and a day-long recording must not grow
memdoctor itself: values go into flat `array('d')` buffers, thinned to each bucket's minimum
and maximum (floor and peaks kept) once they pass `max_points`. The trace file on disk keeps
every sample.
"""

from __future__ import annotations

import threading
from array import array
from typing import Any

import numpy as np


class LiveSeries:
    """(t, rss) pairs, appended in O(1), bounded to about `max_points`."""

    # 50,000 points (two float arrays, ~0.8 MB) are plenty for the live view and the final
    # verdict (the classifier decimates further); memdoctor's own memory stops growing after
    # ~8 minutes at 10 ms instead of creeping for hours.
    def __init__(self, max_points: int = 50_000) -> None:
        self.max_points = max(1000, max_points)
        self.t = array("d")
        self.rss = array("d")
        self.count = 0  # samples ever appended
        self.thinned = False
        # The sampler appends while the live view and alert threads copy: an array('d') cannot
        # grow while numpy holds its buffer (BufferError, which killed a 90 s `run`), so every
        # access takes this lock (~0.1 us uncontended, against ~70 us per sample).
        self._lock = threading.Lock()

    def append(self, t: float, rss: float) -> None:
        with self._lock:
            self.t.append(t)
            self.rss.append(rss)
            self.count += 1
            if len(self.t) > self.max_points:
                self._thin()

    def extend_pairs(self, samples: list[tuple[float, tuple[Any, ...]]]) -> None:
        """Append (t, (rss, ...)) samples, as the recorder commits them, under one lock."""
        with self._lock:
            for t, values in samples:
                self.t.append(t)
                self.rss.append(values[0])
            self.count += len(samples)
            if len(self.t) > self.max_points:
                self._thin()

    def extend(self, t: np.ndarray, rss: np.ndarray) -> None:
        """Append a batch of samples (float64 arrays of equal length)."""
        with self._lock:
            self.t.frombytes(np.ascontiguousarray(t, dtype=np.float64).tobytes())
            self.rss.frombytes(np.ascontiguousarray(rss, dtype=np.float64).tobytes())
            self.count += len(t)
            if len(self.t) > self.max_points:
                self._thin()

    def _thin(self) -> None:  # called with the lock held
        t = np.frombuffer(self.t, dtype=float).copy()
        m = np.frombuffer(self.rss, dtype=float).copy()
        bucket = 4
        full = (len(t) // bucket) * bucket
        mb = m[:full].reshape(-1, bucket)
        lo = np.argmin(mb, axis=1)
        hi = np.argmax(mb, axis=1)
        base = np.arange(mb.shape[0]) * bucket
        first, second = np.minimum(lo, hi), np.maximum(lo, hi)
        # A bucket of equal values has one index for both: keep two different samples of it, else the
        # series holds one sample twice (a repeated timestamp, which the diagnosis drops and counts).
        same = first == second
        first[same], second[same] = 0, bucket - 1
        keep = np.empty(2 * mb.shape[0], dtype=np.int64)
        keep[0::2] = base + first
        keep[1::2] = base + second
        keep = np.concatenate([keep, np.arange(full, len(t))])
        self.t = array("d", t[keep].tobytes())
        self.rss = array("d", m[keep].tobytes())
        self.thinned = True

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the kept samples as numpy arrays."""
        with self._lock:
            return np.array(self.t, dtype=float), np.array(self.rss, dtype=float)

    def __len__(self) -> int:
        with self._lock:
            return len(self.t)
