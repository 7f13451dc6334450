"""memdoctor's pytest plugin: fail a test that leaks memory from one run to the next, whose peak is too
high, or whose server process leaks while the test drives it.

    @pytest.mark.memdoctor(max_growth="100KB", iterations=10)
    def test_handler(): ...

    @pytest.mark.memdoctor(max_peak="230MB")
    def test_batch(): ...

    def test_server_soak(memdoctor_watch):
        server = subprocess.Popen(["node", "server.js"])
        watch = memdoctor_watch(server.pid, limit="512MB", warmup="2s")
        drive_load()
        watch.stop()  # optional: teardown stops a watch still running

Leaks. A marked test runs `iterations` times in the same process (the first run is a warm-up:
imports, caches, lazy initialisation). What each later run leaves behind is the memory it
allocated and that is still alive after it and after `gc.collect()`; the test fails when that
memory, summed over the runs, grows by more than `max_growth` per run (see memdoctor.analysis.per_run). The
failure names the allocation sites (file:line, with the Python stack for native allocations) and
the types whose object counts grew (a pympler summary diff): type names and code locations only,
never the values of strings or objects.

Peak. `max_peak` fails a test whose peak allocated memory in one run (the most memory allocated
by the run and alive at the same moment) exceeds it, with the allocation sites alive at that
peak. A marker with only `max_peak` runs the test once; with `max_growth` or `iterations` too, the
peak is the highest of the runs, and the first run over the budget fails the test at once.

Processes. The `memdoctor_watch` fixture records another process (a server the test started, and its
children) while the test runs, as `memdoctor watch PID` records it: every 20 ms (the gate's interval),
into a trace under the test's tmp_path. When the test calls `stop()`, or at teardown, the trace is
judged by `judge_trace`: the one diagnosis (memdoctor.analysis.diagnose_trace: verdict, pattern,
growth, time to the limit) and the gate's checks on it, so the test fails exactly when `memdoctor gate
--trace PATH` with the same options fails: on a leak always, on what `fail_on` adds (inconclusive), on
growth over `max_growth`, on an OOM kill. The plugin computes no trend of its own. The failure prints
the verdict, pattern, growth, time to the limit, the evidence and the trace's path. A watch only
observes: it never signals the process, and one that exits before `stop()` is judged on what was
recorded until then (the message says so). The per-run budget above is a different question: a few
runs of one test in this process, too few points for a trend.

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
and memdoctor.units are imported when a measured test runs or a size is read, the recorder and the
diagnosis when a watch starts).
"""

from __future__ import annotations

import gc
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from memdoctor.analysis.per_run import PerRunVerdict

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
# True while the per-run budget repeats a test: a memdoctor_watch started in its body would start again at
# every run (another recording of the same process each time), so it is refused there.
_REPEATING = False


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


# ---- watching another process: the one diagnosis ------------------------------------------------

# The gate's default interval (commands/gate.py DEFAULT_INTERVAL, where the choice is measured) and
# its --detail-every: a watch is a gate on a process the test started.
WATCH_INTERVAL = "20ms"
WATCH_DETAIL_EVERY_S = 5.0
WATCH_USAGE = ('for example memdoctor_watch(server.pid, interval="20ms", limit="512MB", warmup="2s", '
               'max_growth="5MB/min", fail_on="leak")')
_FAIL_ON = ("leak", "inconclusive", "no-leak")  # what `gate --fail-on` accepts


class _JudgeOptions:
    """judge_trace's arguments, read once (ValueError with a one-line message), and as `gate` options."""

    __slots__ = ("diagnosis_args", "fail_on", "gate_args", "limit_bytes", "max_growth_bytes_per_s", "metric",
                 "warmup_s")

    def __init__(self, limit: str | int | None, warmup: str | float | None, max_growth: str | float | None,
                 fail_on: str | Iterable[str], metric: str = "rss") -> None:
        from memdoctor.units import parse_duration, parse_rate, parse_size

        self.gate_args: list[str] = []
        self.limit_bytes = None if limit is None else _checked(parse_size, limit, "limit", "512MB")
        self.warmup_s = 0.0 if warmup is None else _checked(parse_duration, warmup, "warmup", "2s")
        self.max_growth_bytes_per_s: float | None = None
        if isinstance(max_growth, str):
            self.max_growth_bytes_per_s = _checked(parse_rate, max_growth, "max_growth", "5MB/min")
        elif max_growth is not None:  # a number: bytes per second
            self.max_growth_bytes_per_s = _checked(float, max_growth, "max_growth", "5MB/min")
        names = [fail_on] if isinstance(fail_on, str) else list(fail_on)
        if not all(isinstance(name, str) for name in names):
            raise ValueError(f"fail_on takes verdict names such as \"leak\" or \"inconclusive\", not {fail_on!r}")
        verdicts = {v.strip() for name in names for v in name.split(",") if v.strip()}
        unknown = sorted(verdicts - set(_FAIL_ON))
        if unknown:
            raise ValueError(f"fail_on takes leak or inconclusive, not {', '.join(unknown)}")
        # As the gate: a leak always fails, fail_on adds verdicts that fail too.
        self.fail_on = frozenset(verdicts | {"leak"})
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric is the name of a series such as \"rss\" or \"pss\", not {metric!r}")
        self.metric = metric
        # The same diagnosis and judgement from the command line (analyze, gate --trace), for the message.
        self.diagnosis_args = [arg for flag, value, unit in (("--limit", limit, "B"), ("--warmup", warmup, "s"))
                               if value is not None
                               for arg in (flag, value if isinstance(value, str) else f"{value}{unit}")]
        if metric != "rss":
            self.diagnosis_args += ["--metric", metric]
        self.gate_args += self.diagnosis_args
        if max_growth is not None:
            self.gate_args += ["--max-growth", max_growth if isinstance(max_growth, str) else f"{max_growth}B/s"]
        for verdict in sorted(self.fail_on - {"leak"}):
            self.gate_args += ["--fail-on", verdict]


def _checked(parse: Callable[[Any], Any], value: Any, name: str, example: str) -> Any:
    """`value` read by `parse`; ValueError naming the argument, in one line."""
    from memdoctor.units import UnitError

    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{name} must be a string such as \"{example}\" or a number, not {type(value).__name__}")
    try:
        result = parse(value)
    except UnitError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if result != result or result < 0 or result == float("inf"):  # NaN, negative or infinite numbers
        raise ValueError(f"{name} must be a finite number of at least 0, not {value!r}")
    return result


class WatchResult:
    """The plugin's judgement of one trace: the one diagnosis (`diagnosis`, as `memdoctor analyze`
    prints it) and the gate's checks on it (`gate`, a memdoctor.analysis.gate.GateResult; `passed`
    as `memdoctor gate --trace` decides it). `notes`: what the watch adds (the process exited early)."""

    __slots__ = ("diagnosis", "gate", "notes", "options", "passed", "title", "trace")

    def __init__(self, trace: str, title: str, diagnosis: Any, gate: Any, options: _JudgeOptions) -> None:
        self.trace = trace
        self.title = title
        self.diagnosis = diagnosis
        self.gate = gate
        self.passed: bool = gate.passed
        self.options = options
        self.notes: list[str] = []

    def lines(self) -> list[str]:
        """What a failing watch says: verdict, pattern and growth as every output prints them, time to
        the limit, the failed checks, the evidence, and the trace with the command that judges it again."""
        import shlex

        from memdoctor.analysis.engine import describe_growth
        from memdoctor.units import format_bytes, format_duration

        d = self.diagnosis
        outcome = "passes" if self.passed else "FAILS"
        lines = [f"memdoctor: {self.title} {outcome} the watch: verdict {d.verdict.value} ({d.pattern.value}), "
                 f"growth {describe_growth(d)}"]
        if d.time_to_limit_s is not None and d.limit_bytes:
            when = "already" if d.time_to_limit_s <= 0 else f"in {format_duration(d.time_to_limit_s)}"
            lines.append(f"  the {format_bytes(d.limit_bytes)} limit is reached {when}")
        lines += [f"  failed: {check.message}" for check in self.gate.failures]
        lines += [f"  evidence: {line}" for line in d.evidence]
        lines += [f"  {note}" for note in [*self.gate.notes, *self.notes]]
        again = shlex.join([self.trace, *self.options.diagnosis_args])
        lines += [f"  trace: {self.trace}",
                  f"  this diagnosis again: memdoctor analyze {again} (the full report: memdoctor report {again})",
                  f"  this pass/fail again: memdoctor gate --trace {shlex.join([self.trace, *self.options.gate_args])}"]
        return lines

    @property
    def message(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        d = self.diagnosis
        return f"WatchResult(passed={self.passed}, verdict={d.verdict.value!r}, pattern={d.pattern.value!r})"


def judge_trace(path: str | os.PathLike[str], *, limit: str | int | None = None, warmup: str | float | None = None,
                max_growth: str | float | None = None,
                fail_on: str | Iterable[str] = ("leak",), metric: str = "rss") -> WatchResult:
    """A trace file -> the plugin's judgement: the one diagnosis (diagnose_trace) and pass/fail as
    `memdoctor gate --trace PATH` decides it (analysis.gate's measure and judge): it fails on a leak,
    on the verdicts `fail_on` adds, on growth over `max_growth` (e.g. "5MB/min"; a number is bytes/s)
    and on an OOM kill. `limit` (e.g. "512MB") replaces the trace's own; `warmup` (e.g. "2s") is the
    start-up not judged; `metric` the series judged (as `--metric`: "pss", "heap"...). ValueError (one
    line) on bad arguments, a trace that cannot be read, or one with several series (judge those with
    `memdoctor gate --trace`)."""
    return _judge(os.fspath(path), _JudgeOptions(limit, warmup, max_growth, fail_on, metric))


def _judge(path: str, options: _JudgeOptions) -> WatchResult:
    from memdoctor.analysis.gate import Thresholds
    from memdoctor.pipelines.gate import gate_trace
    from memdoctor.traces.reader import read_traces

    traces = read_traces(path)  # TraceReadError is a ValueError with one line
    if len(traces) != 1:
        raise ValueError(f"{path} holds {len(traces)} series: judge it with memdoctor gate --trace, which takes "
                         "the worst one's")
    thresholds = Thresholds(max_growth_bytes_per_s=options.max_growth_bytes_per_s, fail_on=options.fail_on)
    # What `memdoctor gate --trace PATH` computes, by the same function: the one diagnosis of the window after
    # the warm-up, the gate's memory numbers of that window, and its checks on them.
    gate = gate_trace(path, options.warmup_s, options.limit_bytes, thresholds, None, options.metric)[0]
    if gate.measurements is None:
        raise ValueError(f"{path} has no sample to judge")
    header = traces[0].header or {}
    title = f"PID {header['pid']}" if header.get("pid") else os.path.basename(path)
    if header.get("cmdline"):
        command = " ".join(" ".join(map(str, header["cmdline"])).split())  # `python -c` code holds newlines
        title += f" ({command if len(command) <= 60 else command[:57] + '...'})"
    return WatchResult(path, title, gate.measurements.diagnosis, gate, options)


class Watch:
    """One process recorded while a test runs (what `memdoctor_watch(pid)` returns). It only observes:
    the process is never signalled, and may exit before the watch is stopped."""

    __slots__ = ("_error", "_outcome", "_plan", "_reported", "_thread", "_writer", "options", "pid", "result",
                 "trace")

    def __init__(self, pid: int, trace: str, options: _JudgeOptions, interval_s: float,
                 follow_children: bool, detail_every_s: float = WATCH_DETAIL_EVERY_S) -> None:
        import threading

        from memdoctor.pipelines.recording import CommonSettings, attach_plan
        from memdoctor.report.console import stderr_console
        from memdoctor.sampling.recorder import RecordingState
        from memdoctor.traces.writer import open_trace_writer

        self.pid = pid
        self.trace = trace
        self.options = options
        self.result: WatchResult | None = None
        self._reported = False
        self._outcome: Any = None
        self._error: BaseException | None = None
        settings = CommonSettings(interval_s, None, detail_every_s, options.limit_bytes, None,
                                  warmup_s=options.warmup_s, metric=options.metric)
        self._writer = open_trace_writer(trace)
        try:
            # What `memdoctor watch PID` and `gate --pid` record: the process and its descendants.
            self._plan = attach_plan(pid, settings, writer=self._writer, live_mode="off", console=stderr_console(),
                                     follow_children=follow_children, source_name="memdoctor pytest watch",
                                     state=RecordingState())
        except BaseException:
            self._writer.close()
            raise
        thread = threading.Thread(target=self._record, name=f"memdoctor-watch-{pid}", daemon=True)
        self._thread: threading.Thread | None = thread
        thread.start()

    def _record(self) -> None:
        from memdoctor.pipelines.recording import execute

        try:
            self._outcome = execute(self._plan)
        except BaseException as exc:  # reported by stop(), in the test's thread
            self._error = exc

    def stop(self, *, check: bool = True) -> WatchResult:
        """End the recording (the process goes on) and judge the trace with judge_trace. A failing
        judgement fails the test here, unless check=False (the caller then judges the result)."""
        if self.result is None:
            self.result = self._finish()
        if not check:
            self._reported = True
        elif not self.result.passed and not self._reported:
            self._reported = True
            pytest.fail(self.result.message, pytrace=False)
        return self.result

    def _halt(self) -> None:
        """End the recording and close its file (once)."""
        if self._thread is None:
            return
        assert self._plan.state is not None
        self._plan.state.request_stop("stopped")
        self._thread.join()  # the recorder checks for a stop at every tick (and every 0.25 s when idle)
        self._thread = None
        self._plan.source.close()
        self._writer.close()

    def _finish(self) -> WatchResult:
        from memdoctor.units import format_duration

        self._halt()
        if self._error is not None:
            self._reported = True
            pytest.fail(f"memdoctor_watch: PID {self.pid}: the recording failed: {self._error}", pytrace=False)
        try:
            result = _judge(self.trace, self.options)
        except ValueError as exc:  # nothing recorded: the process was gone before the first sample
            problem = f"memdoctor_watch: PID {self.pid}: nothing to judge: {exc}"
        else:
            problem = None
        if problem is not None:
            self._reported = True
            pytest.fail(problem, pytrace=False)
        outcome = self._outcome
        # The recorder sees an exit at its next tick; a stop that comes sooner (the test reaped the process
        # and ended) is asked about the process itself.
        if (outcome is not None and outcome.result.end_reason == "target-exited") or _exited(self.pid):
            last = f" (its last sample at {format_duration(float(outcome.t[-1]))})" if (
                outcome is not None and len(outcome.t)) else ""
            result.notes.append(f"the process exited before the watch was stopped{last}: this is the diagnosis of "
                                "what was recorded until then")
        if outcome is not None:
            result.notes += outcome.warnings
        return result


def _exited(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # not ours to read: it is there
        return False


@pytest.fixture
def memdoctor_watch(tmp_path: Path) -> Iterator[Callable[..., Watch]]:
    """Record another process (a server the test started, with its children) while the test runs, and
    fail the test when the one diagnosis of that recording fails the gate's judgement (see judge_trace).

        watch = memdoctor_watch(server.pid, interval="20ms", limit="512MB", warmup="2s")
        drive_load()
        result = watch.stop()  # optional: teardown stops and judges a watch that is still running

    `metric="pss"` (or uss, heap, rss_root...) judges that series, as `gate --metric` does; the ones
    read on detail lines are read every `detail_every` (default 5 s: shorten it for a short watch).
    """
    watches: list[Watch] = []

    def start(pid: int, *, interval: str | float = WATCH_INTERVAL, limit: str | int | None = None,
              warmup: str | float | None = None, max_growth: str | float | None = None,
              fail_on: str | Iterable[str] = ("leak",), follow_children: bool = True,
              metric: str = "rss", detail_every: str | float = WATCH_DETAIL_EVERY_S) -> Watch:
        import psutil

        from memdoctor.errors import MemdoctorError
        from memdoctor.units import parse_duration

        # Bad arguments and a process that is not there fail the test in one line, without a traceback
        # (raised outside the `except`, so that pytest shows no chained exception either).
        problem = None
        try:
            if _REPEATING:
                raise ValueError("this test is run again and again by the per-run leak budget (--memdoctor or a "
                                 "memdoctor marker), and each run would start another watch: leave it out with "
                                 "@pytest.mark.memdoctor(enabled=False)")
            if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
                raise ValueError(f"the first argument is the PID to watch (a positive whole number), not {pid!r}")
            if not isinstance(follow_children, bool):
                raise ValueError(f"follow_children must be True or False, not {follow_children!r}")
            interval_s = float(_checked(parse_duration, interval, "interval", "20ms"))
            if interval_s < 0.001:
                raise ValueError(f"interval {interval!r} is too small: use at least 1ms")
            options = _JudgeOptions(limit, warmup, max_growth, fail_on, metric)
            from memdoctor.commands.recording_options import check_metric

            check_metric(metric)  # a series the recording will have (UnitError is a ValueError)
            # pss, uss, heap... are read on the detail lines: judging one, read them often enough.
            detail_every_s = float(_checked(parse_duration, detail_every, "detail_every", "0.5s"))
            if detail_every_s < interval_s:
                raise ValueError(f"detail_every {detail_every!r} is shorter than the interval {interval!r}")
        except ValueError as exc:
            problem = f"memdoctor_watch: {exc}; {WATCH_USAGE}"
        else:
            same_pid = sum(1 for w in watches if w.pid == pid)
            name = f"memdoctor-watch-{pid}" + (f"-{same_pid + 1}" if same_pid else "") + ".jsonl"
            try:
                if not psutil.pid_exists(pid):
                    raise ValueError(f"no process with PID {pid}: it exited before the watch began, or never ran")
                watch = Watch(pid, str(tmp_path / name), options, interval_s, follow_children, detail_every_s)
            except (ValueError, MemdoctorError) as exc:  # gone, or not ours to read: as `memdoctor watch` says
                problem = f"memdoctor_watch: {exc}"
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        watches.append(watch)
        return watch

    yield start
    unseen: list[str] = []
    for watch in watches:  # every recording ends with the test, whatever happens to the others
        if watch._reported:  # stop() failed the test already, or its caller took the judgement
            watch._halt()
            continue
        try:
            result = watch.stop(check=False)
        except pytest.fail.Exception as exc:
            unseen.append(str(exc))
            continue
        if not result.passed:
            unseen.append(result.message)
    if unseen:
        pytest.fail("\n\n".join(unseen), pytrace=False)


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
        global _REPEATING
        settings.measured += 1
        tracker = _open_tracker(python_allocators=budget.growth)
        _REPEATING = True
        try:
            try:
                _measure(item, runtest, budget, settings, tracker)
            except _TrackerBusy:  # before any run was judged: start again with the fallback
                tracker.close()
                tracker = _Tracemalloc()
                _measure(item, runtest, budget, settings, tracker)
        finally:
            _REPEATING = False
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
    from memdoctor.analysis.per_run import judge_runs

    verdict = judge_runs(retained, budget.max_growth_bytes)
    rss_verdict = judge_runs(resident, budget.max_growth_bytes) if budget.rss else None
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


def _message(verdict: PerRunVerdict, per_run: list[int], budget: Budget, what: str) -> list[str]:
    shown = ", ".join(("+" if v >= 0 else "-") + _fmt(abs(v)) for v in per_run[1:])
    grew = "grew" if verdict.failed else "stayed within budget:"
    return [
        f"memdoctor: {what} {grew} {_fmt(verdict.slope_bytes)} per run "
        f"(budget {_fmt(budget.max_growth_bytes)} per run)",
        f"  each run after the warm-up: {shown}",
        f"  Theil-Sen slope over {verdict.steps} runs after the warm-up; more than half the budget in "
        f"{verdict.rising} of them",
    ]
