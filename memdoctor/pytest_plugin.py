"""memdoctor's pytest plugin: fail a test that leaks memory from one run to the next, or whose peak is too high.

    @pytest.mark.memdoctor(max_growth="100KB", iterations=10)
    def test_handler(): ...

    @pytest.mark.memdoctor(max_peak="230MB")
    def test_batch(): ...

Leaks. A marked test runs `iterations` times in the same process (the first run is a warm-up:
imports, caches, lazy initialisation). What each later run leaves behind is the memory it
allocated and that is still alive after it and after `gc.collect()`; the test fails when that
memory, summed over the runs, grows by more than `max_growth` per run (see `judge_growth`). The
failure names the allocation sites (file:line, with the Python stack for native allocations) and
the types whose object counts grew (a pympler summary diff): type names and code locations only,
never the values of strings or objects.

Peak. `max_peak` fails a test whose peak allocated memory in one run (the most memory allocated
by the run and alive at the same moment) exceeds it, with the allocation sites alive at that
peak. A marker with only `max_peak` runs the test once; with `max_growth` or `iterations` too, the
peak is the highest of the runs, and the first run over the budget fails the test at once.

`pytest --memdoctor` gives every test the default leak budget (`--memdoctor-max-growth`,
`--memdoctor-iterations`), `--memdoctor-max-peak` every test a peak budget; a marker overrides
them for one test, and `@pytest.mark.memdoctor(enabled=False)` leaves one test out.

The tracker is memray when it can run (Linux and macOS): it sees every allocation through
Python's allocators and through malloc, calloc, realloc, valloc, posix_memalign and mmap called
from C extensions, counted at the size requested, so pages never touched count too (they are
what the leak costs once they are). One memray capture per run (in a private temporary
directory, deleted after the test) gives that run's leaked and peak allocations; the warm-up run
is not captured unless a peak is asked for. Where memray cannot run (not installed, another
memray tracker already active), tracemalloc takes over: it sees Python's allocators only.
Memory that C code takes from libc through a pointer from dlsym (as ctypes' `CDLL(None).malloc`
does) passes by memray's hooks; `rss=True` also judges the process's resident memory for that.
MEMDOCTOR_PYTEST_TRACKER=tracemalloc in the environment asks for the fallback.

A test whose warm-up takes less than QUICK_RUN_S gets one capture for all its later runs rather
than one each (a capture costs ~20 ms here, most of a quick test's cost): each run is called
through a function named after it, so the Python stack of each allocation still alive after the
last run says which run made it; memory kept with no such stack (another thread's) sends the test
back to one capture per run.

Limits, as with any per-run accounting: memory a run keeps only until the next run replaces it
(a module global rebound every run) counts as left behind by every run, except in the quick
tests' single capture, where only what is alive after the last run counts. Memory allocated with
pytest's, pluggy's or this plugin's code as the innermost Python frame is their bookkeeping
(~100 B per run), not the test's, and is left out. Once the runs after the
warm-up have left more than MAX_KEPT_BYTES, the plugin judges on the runs so far rather than
running a big leak again (a test that keeps hundreds of MiB per run is failed after two runs).

Cost: nothing for tests that are not measured. The plugin adds no per-test hook; at collection
it replaces `runtest` on the measured items only, and a tracker runs only while a measured
test runs. Its import pulls in nothing beyond the standard library and pytest (memray, pympler
and memdoctor.units are imported when a measured test runs or a size is read).
"""

from __future__ import annotations

import gc
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import Any

import pytest

MARKER = "memdoctor"
DEFAULT_ITERATIONS = 6
DEFAULT_MAX_GROWTH = "64KB"
DEFAULT_MAX_GROWTH_BYTES = 64 * 1024
MIN_ITERATIONS = 3
MAX_ITERATIONS = 10_000
TOP_ROWS = 5
# Python frames shown under a native allocation site: enough to reach the test's own code from a
# C library call (the library's caller, its caller, the test), few enough to read.
SITE_FRAMES = 4
# A leak this large after the warm-up is judged on the runs so far: each further run would keep as
# much again, and a CI runner has a few GiB (GitHub's Linux runners: 7-16 GB). 256 MiB also stays
# above any budget a unit test would set per run.
MAX_KEPT_BYTES = 256 * 1024 * 1024
# One memray capture costs ~20-25 ms here (starting: ~8 ms, stopping and writing: ~14 ms): most of the
# cost of a quick test run six times. A test whose warm-up ran faster than this gets one capture for
# all its later runs instead of one each, its runs told apart by the Python stack (see run_many).
QUICK_RUN_S = 0.25
# The type census walks every object the garbage collector tracks (about 0.4 s per 100,000 here);
# beyond a million objects it would cost more than the test, so it is left out and said so.
CENSUS_MAX_OBJECTS = 1_000_000
USAGE = 'use e.g. @pytest.mark.memdoctor(max_growth="100KB", iterations=10) or @pytest.mark.memdoctor(max_peak="200MB")'
_MARKER_KEYS = ("max_growth", "max_peak", "iterations", "enabled", "rss")


# Plain classes, not dataclasses: a dataclass costs about a millisecond to create at import time,
# and this module is imported by every pytest run once the plugin is installed.
class Budget:
    __slots__ = ("growth", "iterations", "max_growth_bytes", "max_peak_bytes", "rss")

    def __init__(self, max_growth_bytes: int, iterations: int, rss: bool = False,
                 max_peak_bytes: int | None = None, growth: bool = True) -> None:
        self.max_growth_bytes = max_growth_bytes
        self.iterations = iterations
        self.rss = rss  # also judge the process's resident memory (sees memory no tracker hooks)
        self.max_peak_bytes = max_peak_bytes  # None: no peak budget
        self.growth = growth  # False: only the peak is asked about (one run)

    def _key(self) -> tuple[Any, ...]:
        return self.max_growth_bytes, self.iterations, self.rss, self.max_peak_bytes, self.growth

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Budget) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Budget(max_growth_bytes={self.max_growth_bytes}, iterations={self.iterations}, rss={self.rss}, "
                f"max_peak_bytes={self.max_peak_bytes}, growth={self.growth})")


class GrowthVerdict:
    __slots__ = ("failed", "rising", "slope_bytes", "steps")

    def __init__(self, slope_bytes: float, rising: int, steps: int, failed: bool) -> None:
        self.slope_bytes = slope_bytes  # Theil-Sen slope of retained memory per iteration
        self.rising = rising  # iterations in which retained memory rose by more than half the budget
        self.steps = steps  # iterations judged (after the warm-up)
        self.failed = failed


class _Settings:
    __slots__ = ("default", "failed", "measured", "peak_failed", "suite_wide", "trackers")

    def __init__(self, suite_wide: bool, default: Budget) -> None:
        self.suite_wide = suite_wide
        self.default = default
        self.measured = 0
        self.failed: list[str] = []
        self.peak_failed: list[str] = []
        self.trackers: set[str] = set()


_SETTINGS = pytest.StashKey[_Settings]()


# ---- pure judgement ---------------------------------------------------------------------------

def theil_sen_slope(values: list[float]) -> float:
    """Median of the slopes between every pair of points (x = iteration index): the Sen slope of
    the one trend module (memdoctor.analysis.trend), imported here so that an unmarked test never
    loads numpy."""
    if len(values) < 2:
        return 0.0
    import numpy as np

    from memdoctor.analysis.trend import mann_kendall_sen

    return mann_kendall_sen(np.arange(len(values), dtype=float), np.asarray(values, dtype=float),
                            correct=False).slope


def judge_growth(retained: list[float], max_growth_bytes: float) -> GrowthVerdict:
    """Retained bytes after each run (the first entry right after the warm-up run) against a budget."""
    slope = theil_sen_slope(retained)
    steps = len(retained) - 1
    rising = sum(1 for a, b in pairwise(retained) if b - a > max_growth_bytes / 2)
    failed = steps > 0 and slope > max_growth_bytes and 2 * rising >= steps
    return GrowthVerdict(slope, rising, steps, failed)


def _size_argument(kwargs: dict[str, Any], key: str) -> int:
    raw = kwargs[key]
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(f"{key} must be a size such as \"100KB\", not {type(raw).__name__}")
    from memdoctor.units import UnitError, parse_size

    try:
        return parse_size(raw)
    except UnitError as exc:
        raise ValueError(f"{key}: {exc}") from None


def parse_budget(kwargs: dict[str, Any], args: tuple[Any, ...], default: Budget) -> Budget | None:
    """The budget of one marker; None when the marker says enabled=False. ValueError on bad arguments.

    A marker that names max_peak and neither max_growth nor iterations asks the peak question only."""
    if args:
        raise ValueError(f"takes keyword arguments only, got {len(args)} positional")
    unknown = sorted(set(kwargs) - set(_MARKER_KEYS))
    if unknown:
        raise ValueError(f"unknown argument {', '.join(unknown)} (known: {', '.join(_MARKER_KEYS)})")
    enabled = kwargs.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError(f"enabled must be True or False, not {enabled!r}")
    if not enabled:
        return None
    max_growth = _size_argument(kwargs, "max_growth") if "max_growth" in kwargs else default.max_growth_bytes
    max_peak = default.max_peak_bytes
    if "max_peak" in kwargs:
        max_peak = None if kwargs["max_peak"] is None else _size_argument(kwargs, "max_peak")
    iterations = kwargs.get("iterations", default.iterations)
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise ValueError(f"iterations must be a whole number, not {iterations!r}")
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be between {MIN_ITERATIONS} (a warm-up and two measured runs) and "
                         f"{MAX_ITERATIONS}, not {iterations}")
    rss = kwargs.get("rss", default.rss)
    if not isinstance(rss, bool):
        raise ValueError(f"rss must be True or False, not {rss!r}")
    if rss and _rss_bytes() is None:
        raise ValueError("rss=True needs /proc/self/statm (Linux)")
    growth = default.growth
    if kwargs.get("max_peak") is not None:
        growth = "max_growth" in kwargs or "iterations" in kwargs or "rss" in kwargs
    return Budget(max_growth, iterations, rss, max_peak, growth)


# ---- pytest hooks -----------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memdoctor", "memdoctor: fail tests that leak memory per run or peak too high")
    group.addoption("--memdoctor", action="store_true", default=False,
                    help="Measure every test (not only those marked @pytest.mark.memdoctor) with the default "
                         "budget: run it --memdoctor-iterations times, fail it when it leaks memory per run.")
    group.addoption("--memdoctor-iterations", type=int, default=None, metavar="N",
                    help=f"Runs per measured test, the first a warm-up (default {DEFAULT_ITERATIONS}).")
    group.addoption("--memdoctor-rss", action="store_true", default=None,
                    help="Also judge the resident memory (RSS) of the test process per run: it sees memory that "
                         "no tracker hooks, e.g. libc's malloc called through a ctypes pointer (Linux).")
    group.addoption("--memdoctor-max-growth", default=None, metavar="SIZE",
                    help=f"Memory a run may leave behind, per run, e.g. 100KB (default {DEFAULT_MAX_GROWTH}).")
    group.addoption("--memdoctor-max-peak", default=None, metavar="SIZE",
                    help="Fail every test whose peak allocated memory in one run exceeds SIZE, e.g. 200MB "
                         "(tests without a marker run once for it).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(max_growth='{DEFAULT_MAX_GROWTH}', iterations={DEFAULT_ITERATIONS}, max_peak=None, rss=False, "
        "enabled=True): run the test `iterations` times (the first a warm-up) and fail it when the memory each run "
        "leaves behind grows by more than max_growth per run, or when one run's peak allocated memory exceeds "
        "max_peak (memdoctor).",
    )
    options: dict[str, Any] = {}
    for key in ("iterations", "max_growth", "max_peak"):
        value = config.getoption(f"memdoctor_{key}")
        if value is not None:
            options[key] = value
    if config.getoption("memdoctor_rss"):
        options["rss"] = True
    try:
        default = parse_budget(options, (), Budget(DEFAULT_MAX_GROWTH_BYTES, DEFAULT_ITERATIONS))
    except ValueError as exc:
        raise pytest.UsageError(f"--memdoctor-{str(exc).replace('_', '-')}") from None
    assert default is not None
    default.growth = True  # a marker without max_peak judges growth; the suite-wide peak does not change that
    config.stash[_SETTINGS] = _Settings(suite_wide=bool(config.getoption("memdoctor")), default=default)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash.get(_SETTINGS, None)
    if settings is None:
        return
    peak_wide = settings.default.max_peak_bytes is not None
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is None and not (settings.suite_wide or peak_wide):
            continue
        if not isinstance(item, pytest.Function):
            if marker is not None:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} applies to test functions only")
            continue
        if marker is None:
            budget: Budget | None = settings.default
            if not settings.suite_wide:  # only --memdoctor-max-peak: the peak question, one run
                budget = Budget(settings.default.max_growth_bytes, settings.default.iterations, False,
                                settings.default.max_peak_bytes, growth=False)
        else:
            try:
                budget = parse_budget(dict(marker.kwargs), tuple(marker.args), settings.default)
            except ValueError as exc:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER}: {exc}; {USAGE}") from None
        if budget is not None:
            item.runtest = _measured(item, item.runtest, budget, settings)  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    settings = config.stash.get(_SETTINGS, None)
    if settings is None or not settings.measured:
        return
    terminalreporter.write_sep("-", "memdoctor")
    peak = f", {len(settings.peak_failed)} exceeded their peak budget" if settings.peak_failed else ""
    terminalreporter.write_line(f"memdoctor: {settings.measured} test(s) measured "
                                f"({', '.join(sorted(settings.trackers))}), {len(settings.failed)} retained more "
                                f"memory per iteration than allowed{peak}")
    for nodeid in settings.failed + settings.peak_failed:
        terminalreporter.write_line(f"  {nodeid}")


# ---- trackers: what one run allocated, kept and peaked at ----------------------------------------

class _RunMemory:
    __slots__ = ("capture", "kept", "peak")

    def __init__(self, kept: int, peak: int, capture: str | None) -> None:
        self.kept = kept  # bytes allocated during the run and still alive after it and gc.collect()
        self.peak = peak  # the most bytes allocated during the run and alive at one moment
        self.capture = capture  # memray capture file of the run, when there is one


class _Memray:
    """One memray capture per run, in a private directory removed at close()."""

    name = "memray"

    def __init__(self, python_allocators: bool) -> None:
        import tempfile

        import memray

        self._memray = memray
        self.python_allocators = python_allocators
        self._dir = tempfile.mkdtemp(prefix="memdoctor-pytest-")  # mode 0700, a fresh name
        self._runs = 0
        self.kept_sites: dict[tuple[Any, ...], list[Any]] = {}  # stack -> [bytes, blocks, allocator]

    def run(self, runtest: Callable[[], None], capture: bool) -> _RunMemory:
        if not capture:
            _run_and_collect(runtest)
            return _RunMemory(0, 0, None)
        self._runs += 1
        path = os.path.join(self._dir, f"run-{self._runs}.bin")
        memray = self._memray
        capture_run = memray.Tracker(path, native_traces=False, trace_python_allocators=self.python_allocators,
                                     file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS)
        try:
            capture_run.__enter__()
        except RuntimeError as exc:  # "No more than one Tracker instance can be active at the same time"
            raise _TrackerBusy(str(exc)) from None
        try:
            _run_and_collect(runtest)
        finally:
            capture_run.__exit__(None, None, None)
        reader = memray.FileReader(path)
        try:
            kept = 0
            for record in reader.get_leaked_allocation_records(merge_threads=True):
                stack = tuple(record.stack_trace(max_stacks=SITE_FRAMES))
                if stack and _is_harness(stack[0][1]):
                    # Allocated by pytest's or this plugin's own code, not by the test (the tracker's
                    # bookkeeping as it stops: 72 B; pytest calling a parametrized test: 120 B).
                    continue
                kept += record.size
                row = self.kept_sites.get(stack)
                if row is None:
                    self.kept_sites[stack] = [record.size, record.n_allocations, record.allocator]
                else:
                    row[0] += record.size
                    row[1] += record.n_allocations
            return _RunMemory(kept, reader.metadata.peak_memory, path)
        finally:
            reader.close()

    def run_many(self, runtest: Callable[[], None], count: int) -> list[int] | None:
        """`count` runs in one capture, each called through a function of its own name, so that what
        is still alive at the end is told apart by run from the Python stack it was allocated under:
        bytes allocated in each run and alive after the last. None when some memory kept has no
        run in its stack (allocated by another thread, or by no Python code): then only one
        capture per run tells the runs apart."""
        self._runs += 1
        path = os.path.join(self._dir, f"runs-{self._runs}.bin")
        memray = self._memray
        labelled = [_labelled_run(k) for k in range(count)]
        capture_runs = memray.Tracker(path, native_traces=False, trace_python_allocators=self.python_allocators,
                                      file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS)
        try:
            capture_runs.__enter__()
        except RuntimeError as exc:
            raise _TrackerBusy(str(exc)) from None
        try:
            for run in labelled:
                run(runtest)
        finally:
            capture_runs.__exit__(None, None, None)
        names = {f"{_RUN_LABEL}{k}": k for k in range(count)}
        kept = [0] * count
        sites: list[tuple[tuple[Any, ...], int, int, int]] = []
        reader = memray.FileReader(path)
        try:
            for record in reader.get_leaked_allocation_records(merge_threads=True):
                stack = record.stack_trace()
                if stack and _is_harness(stack[0][1]):
                    continue
                run_of = next((names[f] for f, filename, _ in stack if filename == __file__ and f in names), None)
                if run_of is None:
                    return None
                kept[run_of] += record.size
                sites.append((tuple(stack[:SITE_FRAMES]), record.size, record.n_allocations, record.allocator))
        finally:
            reader.close()
        for stack, size, blocks, allocator in sites:
            row = self.kept_sites.get(stack)
            if row is None:
                self.kept_sites[stack] = [size, blocks, allocator]
            else:
                row[0] += size
                row[1] += blocks
        return kept

    def peak_sites(self, capture: str) -> list[tuple[tuple[Any, ...], int, int, int]]:
        reader = self._memray.FileReader(capture)
        try:
            return [(tuple(r.stack_trace(max_stacks=SITE_FRAMES)), r.size, r.n_allocations, r.allocator)
                    for r in reader.get_high_watermark_allocation_records(merge_threads=True)]
        finally:
            reader.close()

    def is_native(self, allocator: int) -> bool:
        return not self._memray.AllocatorType(allocator).name.startswith("PYMALLOC")

    def allocator_name(self, allocator: int) -> str:
        return self._memray.AllocatorType(allocator).name.lower()

    def close(self) -> None:
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)


class _Tracemalloc:
    """The fallback: Python's allocators only, traced from the first run to the last."""

    name = "tracemalloc"

    def __init__(self) -> None:
        import tracemalloc

        self._tracemalloc = tracemalloc
        self.owns = not tracemalloc.is_tracing()
        if self.owns:
            tracemalloc.start(1)

    def run(self, runtest: Callable[[], None], capture: bool) -> _RunMemory:
        tracemalloc = self._tracemalloc
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        _run_and_collect(runtest)
        after, peak = tracemalloc.get_traced_memory()
        return _RunMemory(after - before, peak - before, None)

    def close(self) -> None:
        if self.owns and self._tracemalloc.is_tracing():
            self._tracemalloc.stop()


class _TrackerBusy(Exception):
    """memray refused to start: another memray tracker runs in this process (`memray run`, pytest-memray)."""


def _run_and_collect(runtest: Callable[[], None]) -> None:
    """Run the test, then collect the garbage it made. Its objects reach the oldest generation only
    through a collection of the middle one; when none ran during the test, collecting the two
    younger generations frees all of its garbage and skips the full walk of the heap (60-80 ms per
    run on a pytest process here)."""
    middle = gc.get_stats()[1]["collections"]
    runtest()
    gc.collect(1 if gc.get_stats()[1]["collections"] == middle else 2)


_RUN_LABEL = "memdoctor_run_"


def _one_run(runtest: Callable[[], None]) -> None:
    _run_and_collect(runtest)


def _labelled_run(k: int) -> Callable[[Callable[[], None]], None]:
    """_one_run under the name memdoctor_run_<k>, as a Python stack shows it."""
    import types

    name = f"{_RUN_LABEL}{k}"
    code = _one_run.__code__.replace(co_name=name, co_qualname=name)
    return types.FunctionType(code, _one_run.__globals__, name)


def _open_tracker(python_allocators: bool) -> _Memray | _Tracemalloc:
    """memray when it is installed, else tracemalloc (MEMDOCTOR_PYTEST_TRACKER=tracemalloc asks for it)."""
    if os.environ.get("MEMDOCTOR_PYTEST_TRACKER") != "tracemalloc":
        try:
            return _Memray(python_allocators)
        except ImportError:
            pass
    return _Tracemalloc()


# ---- measuring one test -----------------------------------------------------------------------

def _measured(item: pytest.Function, runtest: Callable[[], None], budget: Budget,
              settings: _Settings) -> Callable[[], None]:
    def run() -> None:
        settings.measured += 1
        tracker = _open_tracker(python_allocators=budget.growth)
        try:
            try:
                _measure(item, runtest, budget, settings, tracker)
            except _TrackerBusy:  # before any run was judged: start again with the fallback
                tracker.close()
                tracker = _Tracemalloc()
                _measure(item, runtest, budget, settings, tracker)
        finally:
            tracker.close()

    return run


def _one_capture_fits(budget: Budget, warm_up_s: float, rss_before: int | None) -> bool:
    """Whether the runs after the warm-up can share one memray capture: a leak question only (a
    peak and RSS are per run), a quick warm-up (QUICK_RUN_S), and a small one, since runs in one
    capture cannot be cut short once they have left MAX_KEPT_BYTES behind."""
    if not budget.growth or budget.max_peak_bytes is not None or budget.rss or budget.iterations < 2:
        return False
    if warm_up_s >= QUICK_RUN_S:
        return False
    return rss_before is None or ((_rss_bytes() or 0) - rss_before) * (budget.iterations - 1) <= MAX_KEPT_BYTES


def _measure(item: pytest.Function, runtest: Callable[[], None], budget: Budget, settings: _Settings,
             tracker: _Memray | _Tracemalloc) -> None:
    root = str(item.config.rootpath)
    runs = budget.iterations if budget.growth else 1
    retained: list[float] = []  # memory left behind by the runs after the warm-up, summed
    resident: list[float] = []
    kept_per_run: list[int] = []
    peak = 0
    cut_short = False
    coarse = ""
    for i in range(runs):
        rss_before = _rss_bytes() if i == 0 and isinstance(tracker, _Memray) and tracker.python_allocators else None
        started = time.perf_counter()
        # The warm-up's leftovers are not judged: memray need not capture it unless a peak is asked for.
        memory = tracker.run(runtest, capture=i > 0 or not budget.growth or budget.max_peak_bytes is not None)
        if i == 0 and isinstance(tracker, _Memray) and _one_capture_fits(budget, time.perf_counter() - started,
                                                                         rss_before):
            together = tracker.run_many(runtest, runs - 1)
            if together is not None:
                kept_per_run = [0, *together]
                for kept in kept_per_run:
                    retained.append(0.0 if not retained else retained[-1] + kept)
                break
            # Some memory kept is not the main thread's: one capture per run from here on.
        if rss_before is not None and isinstance(tracker, _Memray):
            grown = (_rss_bytes() or 0) - rss_before
            if grown > MAX_KEPT_BYTES:
                # A test this big is watched at malloc/mmap level only: pymalloc's small objects are then
                # counted in its 1 MiB arenas, fine at this scale, and memray's own record of each live
                # small object (~150 B apiece, 350 MB on 2.3 M objects here) is not paid for.
                tracker.python_allocators = False
                coarse = (f"  the warm-up grew the process by {_fmt(grown)}: Python's small objects counted "
                          "in pymalloc's arenas")
        if memory.peak > peak:
            peak = memory.peak
        if budget.max_peak_bytes is not None and memory.peak > budget.max_peak_bytes:
            item.user_properties.append(("memdoctor_peak_bytes", memory.peak))
            settings.trackers.add(tracker.name)
            settings.peak_failed.append(item.nodeid)
            pytest.fail("\n".join(_peak_message(tracker, memory, i + 1, runs, budget, root)), pytrace=False)
        kept_per_run.append(memory.kept)
        retained.append(0.0 if i == 0 else retained[-1] + memory.kept)
        if budget.rss:
            resident.append(float(_rss_bytes() or 0))
        if budget.growth and i >= 1 and retained[-1] > MAX_KEPT_BYTES and i < runs - 1:
            cut_short = True
            break
    settings.trackers.add(tracker.name)
    if budget.max_peak_bytes is not None:
        item.user_properties.append(("memdoctor_peak_bytes", peak))
    if not budget.growth:
        return
    verdict = judge_growth(retained, budget.max_growth_bytes)
    rss_verdict = judge_growth(resident, budget.max_growth_bytes) if budget.rss else None
    item.user_properties.append(("memdoctor_growth_bytes_per_iteration", round(verdict.slope_bytes)))
    if rss_verdict is not None:
        item.user_properties.append(("memdoctor_rss_growth_bytes_per_iteration", round(rss_verdict.slope_bytes)))
    if not verdict.failed and not (rss_verdict is not None and rss_verdict.failed):
        return
    settings.failed.append(item.nodeid)
    what = ("memory left behind per run (memray)" if tracker.name == "memray"
            else "Python memory left behind per run (tracemalloc)")
    lines = _message(verdict, kept_per_run, budget, what)
    if coarse:
        lines.append(coarse)
    if cut_short:
        lines.append(f"  stopped after {len(retained)} runs: more than {_fmt(MAX_KEPT_BYTES)} left behind "
                     "after the warm-up")
    if rss_verdict is not None:
        rss_lines = _message(rss_verdict, [int(b - a) for a, b in pairwise([resident[0], *resident])], budget,
                             "resident memory (RSS) growth per run")
        if rss_verdict.failed and not verdict.failed:
            lines = [*rss_lines, *lines,
                     f"RSS grows while the memory {tracker.name} sees does not: the growth is memory taken "
                     "outside the allocators it hooks (libc called through a pointer, e.g. ctypes' CDLL)"]
        else:
            lines += rss_lines
    if isinstance(tracker, _Memray):
        measured = max(1, len(retained) - 1)
        lines += _memray_sites(tracker, measured, root)
        lines += _growing_types(runtest, tracker, skip=cut_short)
    else:
        lines += _explain_with_tracemalloc(runtest, budget, root, tracker)
    pytest.fail("\n".join(lines), pytrace=False)


# ---- naming what grew ---------------------------------------------------------------------------

def _fmt(value: float) -> str:
    from memdoctor.units import format_bytes

    return format_bytes(value)


def _where(frame: tuple[str, str, int], prefix: str) -> str:
    function, filename, lineno = frame
    path = filename[len(prefix):] if filename.startswith(prefix) else filename
    return f"{path}:{lineno} in {function}"


def _is_harness(filename: str) -> bool:
    """Frames of pytest, pluggy and this plugin: the caller of every test, never the leak."""
    return filename == __file__ or any(part in filename for part in (f"{os.sep}_pytest{os.sep}",
                                                                     f"{os.sep}pluggy{os.sep}"))


def _site_lines(rows: Iterable[tuple[tuple[Any, ...], float, float, int]], tracker: _Memray, root: str,
                unit: str) -> list[str]:
    """One line per allocation site (its innermost Python frame), largest first; under a native
    allocation the Python frames that called it."""
    prefix = root.rstrip("/") + "/"
    by_site: dict[Any, list[Any]] = {}
    for stack, size, blocks, allocator in rows:
        key = (stack[0] if stack else ("???", "<no Python frame>", 0), tracker.is_native(allocator))
        row = by_site.setdefault(key, [0.0, 0.0, allocator, stack])
        row[0] += size
        row[1] += blocks
    lines: list[str] = []
    largest = max((row[0] for row in by_site.values()), default=0.0)
    for (frame, native), (size, blocks, allocator, stack) in sorted(by_site.items(), key=lambda kv: -kv[1][0]):
        if size <= 0 or size < largest / 100:  # crumbs beside the site that matters
            break
        kind = f"  [native: {tracker.allocator_name(allocator)}]" if native else ""
        lines.append(f"  {_where(frame, prefix)}  +{_fmt(size)}{unit} ({blocks:,.0f} blocks){kind}")
        if native:
            lines += [f"      called from {_where(caller, prefix)}" for caller in stack[1:SITE_FRAMES]
                      if not _is_harness(caller[1])]
        if sum(1 for line in lines if not line.startswith("      ")) >= TOP_ROWS:
            break
    return lines or ["  (none)"]


def _memray_sites(tracker: _Memray, measured: int, root: str) -> list[str]:
    rows = [(stack, size / measured, blocks / measured, allocator)
            for stack, (size, blocks, allocator) in tracker.kept_sites.items()]
    return [f"top allocation sites left behind (memray; per run, over {measured} runs after the warm-up):",
            *_site_lines(rows, tracker, root, " per run")]


def _peak_message(tracker: _Memray | _Tracemalloc, memory: _RunMemory, run: int, runs: int, budget: Budget,
                  root: str) -> list[str]:
    assert budget.max_peak_bytes is not None
    lines = [f"memdoctor: peak memory allocated in one run {_fmt(memory.peak)} exceeds max_peak "
             f"{_fmt(budget.max_peak_bytes)} (run {run} of {runs}; {tracker.name})"]
    if isinstance(tracker, _Memray) and memory.capture is not None:
        lines.append("allocations alive at the peak, largest sites first:")
        lines += _site_lines(tracker.peak_sites(memory.capture), tracker, root, "")
    else:
        lines.append("  (the allocation sites at the peak need memray)")
    return lines


def _type_name(tp: type) -> str:
    module = getattr(tp, "__module__", None)
    name = getattr(tp, "__qualname__", tp.__name__)
    return name if module in (None, "builtins") else f"{module}.{name}"


class _Census:
    """Objects alive, counted per type, as objgraph.show_growth counts them: the objects the garbage
    collector tracks; and, for those that are new since an earlier census, the objects they hold
    that it does not track (str, bytes, int...). Counted with C-level iteration (map, compress,
    filterfalse, Counter): a Python loop over a pytest process's heap costs ~100 ms a census here,
    and pympler.summary.summarize, which names each object through regular expressions, ~20 s
    per million objects; the rows and their diff are pympler's."""

    def __init__(self, earlier: _Census | None = None) -> None:
        from itertools import compress, filterfalse
        from operator import not_

        everything = gc.get_objects()
        self.counts: Counter[type] = Counter(map(type, everything))
        self.ids = set(map(id, everything))
        if earlier is not None:
            old = earlier.ids | {id(earlier), id(earlier.ids), id(earlier.counts)}
            self.counts[type(earlier)] -= 1
            self.counts[set] -= 1
            self.counts[Counter] -= 1
            new = list(compress(everything, map(not_, map(old.__contains__, map(id, everything)))))
            held = list(filterfalse(gc.is_tracked, gc.get_referents(*new)))
            self.counts.update(map(type, dict(zip(map(id, held), held, strict=True)).values()))
            del new, held
        del everything


def _growing_types(runtest: Callable[[], None], tracker: _Memray | _Tracemalloc, skip: bool = False,
                   extra: int = 1) -> list[str]:
    """Run the test `extra` more times (untracked) between two censuses and list the types whose
    counts grew: pympler's summary diff, the question objgraph.show_growth answers. The last run
    collected its garbage (see _run_and_collect), so the heap is counted as the test leaves it."""
    title = f"top growing types (objects per run, from {extra} more run(s) between two heap censuses):"
    if skip:
        return [title, f"  (left out: the test already left more than {_fmt(MAX_KEPT_BYTES)} behind)"]
    tracked = len(gc.get_objects())
    if tracked > CENSUS_MAX_OBJECTS:
        return [title, f"  (left out: {tracked:,} objects on the heap, over {CENSUS_MAX_OBJECTS:,})"]
    from pympler import summary

    # The first Counter built from an iterator fills the ABC caches (22 weakrefs, 11 sets) that
    # isinstance(..., Mapping) keeps: fill them now, not between the two censuses.
    Counter(map(type, ()))
    before = _Census()
    for _ in range(extra):
        if isinstance(tracker, _Memray):
            tracker.run(runtest, capture=False)
        else:
            _run_and_collect(runtest)
    after = _Census(before)
    names = {tp: _type_name(tp) for tp in before.counts.keys() | after.counts.keys()}
    # pympler summary rows are [type name, count, total size]; the census counts, memray sizes.
    diff = [row for row in summary.get_diff([[names[tp], n, 0] for tp, n in before.counts.items()],
                                            [[names[tp], n, 0] for tp, n in after.counts.items()]) if row[1] > 0]
    del before, after
    diff.sort(key=lambda row: (-row[1], row[0]))  # most new objects first; ties by name
    lines = [title]
    for name, dcount, _ in diff[:TOP_ROWS]:
        lines.append(f"  {name:<40} {dcount / extra:+,.0f}")
    if not diff:
        lines.append("  (no type grew in number: the memory is in objects that existing ones hold, such as a "
                     "buffer appended to a list, or outside Python objects: see the sites)")
    return lines


def _explain_with_tracemalloc(runtest: Callable[[], None], budget: Budget, root: str,
                              tracker: _Tracemalloc) -> list[str]:
    """The fallback's sites: a few more runs between two tracemalloc snapshots, then the type census
    with tracemalloc stopped when the plugin started it (tracing slows the census down)."""
    extra = max(2, min(4, budget.iterations // 2))
    sites = _growing_tracemalloc_sites(runtest, extra, root)
    tracker.close()
    return _growing_types(runtest, tracker) + sites


def _growing_tracemalloc_sites(runtest: Callable[[], None], extra: int, root: str) -> list[str]:
    import tracemalloc

    gc.collect()
    snap_before = tracemalloc.take_snapshot()
    for _ in range(extra):
        runtest()
    gc.collect()
    snap_after = tracemalloc.take_snapshot()
    # Filter the grouped rows rather than the traces: Snapshot.filter_traces is slow on big heaps.
    ignore = {tracemalloc.__file__, __file__, "<unknown>"}
    stats = snap_after.compare_to(snap_before, "lineno")
    del snap_before, snap_after
    growing = [s for s in stats if s.size_diff > 0 and s.traceback[0].filename not in ignore
               and not s.traceback[0].filename.startswith("<frozen importlib")][:TOP_ROWS]
    prefix = root.rstrip("/") + "/"
    lines = ["top allocation sites (tracemalloc: memory still held, per iteration):"]
    for stat in growing:
        frame = stat.traceback[0]
        path = frame.filename[len(prefix):] if frame.filename.startswith(prefix) else frame.filename
        lines.append(f"  {path}:{frame.lineno}  +{_fmt(stat.size_diff / extra)} "
                     f"({stat.count_diff / extra:+,.0f} blocks)")
    if not growing:
        lines.append("  (none)")
    return lines


def _rss_bytes() -> int | None:
    """Resident memory of this process from /proc/self/statm; None where there is no /proc."""
    from memdoctor.sampling.procfs import rss_once

    return rss_once(os.getpid())


def _message(verdict: GrowthVerdict, per_run: list[int], budget: Budget, what: str) -> list[str]:
    shown = ", ".join(("+" if v >= 0 else "-") + _fmt(abs(v)) for v in per_run[1:])
    grew = "grew" if verdict.failed else "stayed within budget:"
    return [
        f"memdoctor: {what} {grew} {_fmt(verdict.slope_bytes)} per run "
        f"(budget {_fmt(budget.max_growth_bytes)} per run)",
        f"  each run after the warm-up: {shown}",
        f"  Theil-Sen slope over {verdict.steps} runs after the warm-up; more than half the budget in "
        f"{verdict.rising} of them",
    ]
