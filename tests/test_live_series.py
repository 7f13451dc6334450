"""LiveSeries is shared by the sampler (appends) and the live view / alert threads (copies)."""

from __future__ import annotations

import threading

from memdoctor.sampling.series import LiveSeries


def test_appends_while_another_thread_copies_never_raise():
    # Before the lock: BufferError('cannot resize an array that is exporting buffers') within a
    # few hundred appends, which ended a real 90 s `memdoctor run` (its sampler thread died).
    series = LiveSeries(max_points=1000)
    stop = threading.Event()
    errors: list[BaseException] = []

    def copy_forever() -> None:
        while not stop.is_set():
            try:
                series.arrays()
            except BaseException as exc:
                errors.append(exc)
                stop.set()

    reader = threading.Thread(target=copy_forever)
    reader.start()
    try:
        for i in range(50_000):
            series.append(float(i), 1.0)
            if stop.is_set():
                break
    except BaseException as exc:
        errors.append(exc)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    t, rss = series.arrays()
    assert series.count == 50_000 and len(t) == len(rss) <= 2 * series.max_points
    assert t[-1] == 49_999.0
