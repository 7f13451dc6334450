"""Bounded accumulation of streamed samples.

Readers stream a file in chunks and hand them here. Up to `max_points` samples are kept as
they are; past that, the kept samples are thinned by keeping each bucket's minimum and maximum
(in time order), which preserves the memory floor (what the classifier fits) and the peaks
(what hits the limit). So a 10-million-sample trace is read in bounded memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_MAX_POINTS = 2_000_000


# Values as readers gather them: numpy arrays, or plain lists of floats from a line parser.
Samples = Sequence[float] | np.ndarray

class SampleAccumulator:
    """Collects (t, rss, optional series) chunks; thins them once there are too many."""

    def __init__(self, series_keys: tuple[str, ...] = (), max_points: int = DEFAULT_MAX_POINTS) -> None:
        self.series_keys = series_keys
        self.max_points = max(1000, max_points)
        self.rows_read = 0
        self._chunks: list[np.ndarray] = []  # each: shape (2 + len(series_keys), k)
        self._stored = 0
        self.thinned = False

    def add(self, t: Samples, rss: Samples, series: Mapping[str, Samples] | None = None) -> None:
        if len(t) == 0:
            return
        rows = [np.asarray(t, dtype=float), np.asarray(rss, dtype=float)]
        for key in self.series_keys:
            value = (series or {}).get(key)
            rows.append(np.full(len(t), np.nan) if value is None else np.asarray(value, dtype=float))
        self._chunks.append(np.vstack(rows))
        self.rows_read += len(t)
        self._stored += len(t)
        if self._stored > self.max_points:
            self._thin()

    def _thin(self) -> None:
        data = np.hstack(self._chunks)
        n = data.shape[1]
        bucket = 4
        full = (n // bucket) * bucket
        head = data[:, :full].reshape(data.shape[0], -1, bucket)
        lo = np.argmin(head[1], axis=1)
        hi = np.argmax(head[1], axis=1)
        first = np.minimum(lo, hi)
        second = np.maximum(lo, hi)
        base = np.arange(head.shape[1]) * bucket
        keep = np.empty(2 * head.shape[1], dtype=np.int64)
        keep[0::2] = base + first
        keep[1::2] = base + second
        kept = data[:, keep]
        self._chunks = [kept, data[:, full:]] if full < n else [kept]
        self._stored = sum(c.shape[1] for c in self._chunks)
        self.thinned = True

    def arrays(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        if not self._chunks:
            empty = np.empty(0)
            return empty, empty, {key: empty for key in self.series_keys}
        data = np.hstack(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        series = {key: data[2 + i] for i, key in enumerate(self.series_keys)}
        return data[0], data[1], series
