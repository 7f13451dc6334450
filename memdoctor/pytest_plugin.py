"""memdoctor's pytest plugin: fail a test whose retained memory grows from one iteration to the next.

    @pytest.mark.memdoctor(max_growth="100KB", iterations=10)
    def test_handler(): ...

runs the marked test 10 times in the same process (the first run is a warm-up: imports, caches,
lazy initialisation) and fails it when the Python memory still reachable after each run (traced
by tracemalloc, after `gc.collect()`) grows by more than `max_growth` per iteration. The failure
message names the types whose object counts and sizes grew and the allocation sites (file:line)
that hold the new memory: type names and code locations only, never the values of strings or
objects. `pytest --memdoctor` gives every test of the suite a default budget
(`--memdoctor-max-growth`, `--memdoctor-iterations`); a marker overrides it for one test, and
`@pytest.mark.memdoctor(enabled=False)` leaves one test out.

The judgement (see `judge_growth`): the Theil-Sen slope (the median of the pairwise slopes) of the
retained memory over the iterations after the warm-up must exceed the budget, and memory must
rise by more than half the budget in at least half of those iterations, so that a one-off
allocation in one iteration (a cache filled once, a lazy import) does not fail a test.

What it measures and what it does not: tracemalloc sees every allocation made through Python's
allocators (objects, bytearray, bytes, NumPy arrays' data, ctypes buffers), not memory that C
code takes from malloc directly. Function-scoped fixtures are created once per test, not once
per iteration: an object that a fixture hands to the test and that the test fills is retained
from one iteration to the next, which is what a leak is.

Cost: nothing for tests that are not measured. The plugin adds no per-test hook; at collection
it replaces `runtest` on the measured items only, and tracemalloc runs only while a measured
test runs. Its import pulls in nothing beyond the standard library (memdoctor.units only
when a size is read or shown).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
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
USAGE = 'use e.g. @pytest.mark.memdoctor(max_growth="100KB", iterations=10)'
_MARKER_KEYS = ("max_growth", "iterations", "enabled", "rss")


# Plain classes, not dataclasses: a dataclass costs about a millisecond to create at import time,
# and this module is imported by every pytest run once the plugin is installed.
class Budget:
    __slots__ = ("iterations", "max_growth_bytes", "rss")

    def __init__(self, max_growth_bytes: int, iterations: int, rss: bool = False) -> None:
        self.max_growth_bytes = max_growth_bytes
        self.iterations = iterations
        self.rss = rss  # also judge the process's resident memory (sees malloc from C code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Budget) and (self.max_growth_bytes, self.iterations, self.rss) == (
            other.max_growth_bytes, other.iterations, other.rss)

    def __hash__(self) -> int:
        return hash((self.max_growth_bytes, self.iterations, self.rss))

    def __repr__(self) -> str:
        return f"Budget(max_growth_bytes={self.max_growth_bytes}, iterations={self.iterations}, rss={self.rss})"


class GrowthVerdict:
    __slots__ = ("failed", "rising", "slope_bytes", "steps")

    def __init__(self, slope_bytes: float, rising: int, steps: int, failed: bool) -> None:
        self.slope_bytes = slope_bytes  # Theil-Sen slope of retained memory per iteration
        self.rising = rising  # iterations in which retained memory rose by more than half the budget
        self.steps = steps  # iterations judged (after the warm-up)
        self.failed = failed


class _Settings:
    __slots__ = ("default", "failed", "measured", "suite_wide")

    def __init__(self, suite_wide: bool, default: Budget) -> None:
        self.suite_wide = suite_wide
        self.default = default
        self.measured = 0
        self.failed: list[str] = []


_SETTINGS = pytest.StashKey[_Settings]()


# ---- pure judgement ---------------------------------------------------------------------------

def theil_sen_slope(values: list[float]) -> float:
    """Median of the slopes between every pair of points (x = iteration index)."""
    n = len(values)
    slopes = sorted((values[j] - values[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    if not slopes:
        return 0.0
    mid = len(slopes) // 2
    return float(slopes[mid]) if len(slopes) % 2 else (slopes[mid - 1] + slopes[mid]) / 2.0


def judge_growth(retained: list[float], max_growth_bytes: float) -> GrowthVerdict:
    """Retained bytes after each run (the first entry right after the warm-up run) against a budget."""
    slope = theil_sen_slope(retained)
    steps = len(retained) - 1
    rising = sum(1 for a, b in pairwise(retained) if b - a > max_growth_bytes / 2)
    failed = steps > 0 and slope > max_growth_bytes and 2 * rising >= steps
    return GrowthVerdict(slope, rising, steps, failed)


def parse_budget(kwargs: dict[str, Any], args: tuple[Any, ...], default: Budget) -> Budget | None:
    """The budget of one marker; None when the marker says enabled=False. ValueError on bad arguments."""
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
    max_growth = default.max_growth_bytes
    if "max_growth" in kwargs:
        raw = kwargs["max_growth"]
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise ValueError(f"max_growth must be a size such as \"100KB\", not {type(raw).__name__}")
        from memdoctor.units import UnitError, parse_size

        try:
            max_growth = parse_size(raw)
        except UnitError as exc:
            raise ValueError(f"max_growth: {exc}") from None
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
    return Budget(max_growth, iterations, rss)


# ---- pytest hooks -----------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memdoctor", "memdoctor: fail tests whose retained memory grows per iteration")
    group.addoption("--memdoctor", action="store_true", default=False,
                    help="Measure every test (not only those marked @pytest.mark.memdoctor) with the default "
                         "budget: run it --memdoctor-iterations times, fail it when retained memory grows.")
    group.addoption("--memdoctor-iterations", type=int, default=None, metavar="N",
                    help=f"Runs per measured test, the first a warm-up (default {DEFAULT_ITERATIONS}).")
    group.addoption("--memdoctor-rss", action="store_true", default=None,
                    help="Also judge the resident memory (RSS) of the test process per iteration: catches memory "
                         "that C code takes from malloc directly, which tracemalloc cannot see (Linux).")
    group.addoption("--memdoctor-max-growth", default=None, metavar="SIZE",
                    help=f"Retained memory allowed per iteration, e.g. 100KB (default {DEFAULT_MAX_GROWTH}).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(max_growth='{DEFAULT_MAX_GROWTH}', iterations={DEFAULT_ITERATIONS}, rss=False, enabled=True): run "
        "the test "
        "`iterations` times (the first a warm-up) and fail it when the memory it retains grows by more than "
        "max_growth per iteration (memdoctor).",
    )
    iterations = config.getoption("memdoctor_iterations")
    max_growth = config.getoption("memdoctor_max_growth")
    options: dict[str, Any] = {}
    if iterations is not None:
        options["iterations"] = iterations
    if max_growth is not None:
        options["max_growth"] = max_growth
    if config.getoption("memdoctor_rss"):
        options["rss"] = True
    try:
        default = parse_budget(options, (), Budget(DEFAULT_MAX_GROWTH_BYTES, DEFAULT_ITERATIONS))
    except ValueError as exc:
        raise pytest.UsageError(f"--memdoctor-{str(exc).replace('_', '-')}") from None
    assert default is not None
    config.stash[_SETTINGS] = _Settings(suite_wide=bool(config.getoption("memdoctor")), default=default)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash.get(_SETTINGS, None)
    if settings is None:
        return
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is None and not settings.suite_wide:
            continue
        if not isinstance(item, pytest.Function):
            if marker is not None:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} applies to test functions only")
            continue
        if marker is None:
            budget: Budget | None = settings.default
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
    terminalreporter.write_line(f"memdoctor: {settings.measured} test(s) measured, "
                                f"{len(settings.failed)} retained more memory per iteration than allowed")
    for nodeid in settings.failed:
        terminalreporter.write_line(f"  {nodeid}")


# ---- measuring one test -----------------------------------------------------------------------

def _measured(item: pytest.Function, runtest: Callable[[], None], budget: Budget,
              settings: _Settings) -> Callable[[], None]:
    def run() -> None:
        import tracemalloc

        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start(1)
        try:
            retained: list[float] = []
            resident: list[float] = []
            for _ in range(budget.iterations):
                runtest()
                gc.collect()
                retained.append(float(tracemalloc.get_traced_memory()[0]))
                if budget.rss:
                    resident.append(float(_rss_bytes() or 0))
            verdict = judge_growth(retained, budget.max_growth_bytes)
            rss_verdict = judge_growth(resident, budget.max_growth_bytes) if budget.rss else None
            settings.measured += 1
            item.user_properties.append(("memdoctor_growth_bytes_per_iteration", round(verdict.slope_bytes)))
            if rss_verdict is not None:
                item.user_properties.append(("memdoctor_rss_growth_bytes_per_iteration",
                                             round(rss_verdict.slope_bytes)))
            if verdict.failed or (rss_verdict is not None and rss_verdict.failed):
                settings.failed.append(item.nodeid)
                explanation = _explain(runtest, budget, str(item.config.rootpath), started)
                lines = _message(verdict, retained, budget, "Python memory (tracemalloc)")
                if rss_verdict is not None:
                    rss_lines = _message(rss_verdict, resident, budget, "resident memory (RSS)")
                    if rss_verdict.failed and not verdict.failed:
                        lines = [*rss_lines, *lines,
                                 "RSS grows while the memory Python allocated does not: the growth is memory "
                                 "taken outside Python's allocators (a C extension, ctypes, malloc)"]
                    else:
                        lines += rss_lines
                pytest.fail("\n".join(lines + explanation), pytrace=False)
        finally:
            if started:
                tracemalloc.stop()

    return run


def _type_name(tp: type) -> str:
    module = getattr(tp, "__module__", None)
    name = getattr(tp, "__qualname__", tp.__name__)
    return name if module in (None, "builtins") else f"{module}.{name}"


def _census(exclude: set[int]) -> dict[type, list[int]]:
    """Objects alive, per type: [count, shallow bytes]. GC-tracked objects and what they refer to
    directly (str, bytes, int... are not tracked by the GC but held by containers that are).
    Containers whose id is in `exclude` (an earlier census) are left out with what they hold."""
    gc.collect()
    everything = gc.get_objects()
    exclude = {*exclude, id(exclude), id(everything)}
    objects = [o for o in everything if id(o) not in exclude]
    del everything
    seen = {id(o) for o in objects}
    untracked = []
    for o in gc.get_referents(*objects):
        if not gc.is_tracked(o) and id(o) not in seen:
            seen.add(id(o))
            untracked.append(o)
    counts: dict[type, list[int]] = {}
    for group in (objects, untracked):
        for o in group:
            row = counts.get(type(o))
            if row is None:
                row = counts[type(o)] = [0, 0]
            row[0] += 1
            try:
                row[1] += sys.getsizeof(o)
            except TypeError:
                pass
    del objects, untracked, seen
    return counts


def _explain(runtest: Callable[[], None], budget: Budget, root: str, owns_tracing: bool) -> list[str]:
    """Run the test a few more times between two tracemalloc snapshots, then between two heap
    censuses (apart, so that neither measurement counts the other's data); name what grew.
    The census runs with tracemalloc stopped when the plugin started it (tracing slows it down)."""
    import tracemalloc

    extra = max(2, min(4, budget.iterations // 2))
    sites = _growing_sites(runtest, extra, root)
    if owns_tracing:
        tracemalloc.stop()
    return _growing_types(runtest, extra) + sites


def _growing_types(runtest: Callable[[], None], extra: int) -> list[str]:
    from memdoctor.units import format_bytes

    before = _census(set())
    for _ in range(extra):
        runtest()
    after = _census({id(before), *(id(row) for row in before.values())})
    types = []
    for tp, (count, size) in after.items():
        c0, s0 = before.get(tp, (0, 0))
        if size - s0 > 0 or count - c0 > 0:
            types.append(((size - s0) / extra, (count - c0) / extra, _type_name(tp)))
    del before, after
    types.sort(reverse=True)
    lines = [f"top growing types (per iteration, from {extra} more runs between two heap censuses):"]
    for dsize, dcount, name in types[:TOP_ROWS]:
        lines.append(f"  {name:<40} {dcount:+,.0f} objects  {'+' if dsize >= 0 else '-'}{format_bytes(abs(dsize))}")
    if not types:
        lines.append("  (no type grew in number or size: the growth is outside Python objects, e.g. in buffers)")
    return lines


def _growing_sites(runtest: Callable[[], None], extra: int, root: str) -> list[str]:
    import tracemalloc

    from memdoctor.units import format_bytes

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
        lines.append(f"  {path}:{frame.lineno}  +{format_bytes(stat.size_diff / extra)} "
                     f"({stat.count_diff / extra:+,.0f} blocks)")
    if not growing:
        lines.append("  (none)")
    return lines


def _rss_bytes() -> int | None:
    """Resident memory of this process from /proc/self/statm; None where there is no /proc."""
    import os

    from memdoctor.sampling.procfs import rss_once

    return rss_once(os.getpid())


def _message(verdict: GrowthVerdict, values: list[float], budget: Budget, what: str) -> list[str]:
    from memdoctor.units import format_bytes

    shown = ", ".join(format_bytes(v) for v in values)
    grew = "grew" if verdict.failed else "stayed within budget:"
    return [
        f"memdoctor: {what} retained per iteration {grew} {format_bytes(verdict.slope_bytes)} "
        f"(budget {format_bytes(budget.max_growth_bytes)} per iteration)",
        f"  after each run (warm-up first): {shown}",
        f"  Theil-Sen slope over {verdict.steps} iterations after the warm-up; it rose by more than half the "
        f"budget in {verdict.rising} of them",
    ]
