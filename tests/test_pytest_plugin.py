"""The pytest plugin on small real test suites, each run by pytest in a subprocess (pytester).

The scenarios of pytest-memray's own leak and limit tests are written here anew, each with the
outcome pytest-memray's tests expect: `valloc` from C code at five sizes against a 5 KB budget,
the same in a thread at 4 MiB a call against 20 MB (pages never touched), a Python-object leak,
a peak over its budget. And two it does not have: a cache filled once passes, an empty test
passes a 1 B budget. The native allocations come from a small C library built with cc and called
through ctypes, as a C extension's would: memray hooks the allocator calls C libraries make, not
libc's functions called through a pointer from dlsym (ctypes' CDLL(None).valloc), which it
does not see.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from memdoctor.analysis.per_run import judge_runs, sen_slope_per_run

from .conftest import ROOT, memdoctor

pytest_plugins = ["pytester"]
integration = pytest.mark.integration

# A C library whose allocations go through its own PLT, as a C extension's do.
NATIVE_C = """#include <stdlib.h>
void *grab(size_t n) { return valloc(n); }
"""

SUITE = '''
import ctypes
import pytest

_SESSIONS = []
_CACHE = {}
_RUNS = []


class Session:
    def __init__(self, user):
        self.user = user
        self.token = "token-" + "S3CR3T" + str(user)


@pytest.mark.memdoctor(max_growth="20KB", iterations=6)
def test_leaky_sessions():
    for user in range(500):
        _SESSIONS.append(Session(user))


@pytest.mark.memdoctor(max_growth="20KB", iterations=6)
def test_healthy_handler():
    scratch = [Session(user) for user in range(2000)]
    assert len(scratch) == 2000


@pytest.mark.memdoctor(max_growth="20KB", iterations=8)
def test_cache_filled_once_in_the_third_run():
    _RUNS.append(None)
    if len(_RUNS) == 3:
        _CACHE.update((i, bytearray(512)) for i in range(2000))


@pytest.mark.memdoctor(max_growth="100KB", iterations=8, rss=True)
def test_malloc_leak():
    # Memory from malloc, not from Python's allocators: 4 MiB a run, more than the free memory the
    # earlier tests leave in the heap (RSS only grows once that is used up).
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    block = libc.malloc(4 << 20)
    ctypes.memset(block, 1, 4 << 20)
'''


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Isolated from other installed plugins, and from the entry point once it is installed (so the
    # module is not registered twice): the plugin is loaded by -p, as a user without it installed would.
    pytester._monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester._monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return pytester.runpytest_subprocess("-p", "memdoctor.pytest_plugin", "-p", "no:cacheprovider", *args)


@integration
def test_leaking_test_fails_with_its_growing_type_named(pytester: pytest.Pytester):
    path = pytester.makepyfile(test_suite=SUITE)
    token_line = 1 + next(i for i, line in enumerate(path.read_text().splitlines()) if "self.token" in line)
    result = _run(pytester, "-rA", "--junitxml=report.xml")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    failures = out[out.index("= FAILURES ="):]
    leaky = failures[failures.index("test_leaky_sessions"):failures.index("test_malloc_leak")]
    # The verdict with its numbers, the growing type (by its name) and the allocation site.
    assert "memory left behind per run (memray) grew" in leaky
    assert "budget 20.0 KiB per run" in leaky
    assert "test_suite.Session" in leaky and "+500" in leaky
    assert f"test_suite.py:{token_line} in __init__" in leaky  # the line that builds the leaked strings
    # Names only: never the content of the leaked strings.
    assert "S3CR3T" not in out
    # libc's malloc called through ctypes' pointer passes by memray's hooks; RSS sees it, and says so.
    native = failures[failures.index("test_malloc_leak"):]
    assert "resident memory (RSS) growth per run grew" in native
    assert "outside the allocators it hooks" in native
    result.stdout.fnmatch_lines(["*PASSED test_suite.py::test_healthy_handler*",
                                 "*PASSED test_suite.py::test_cache_filled_once_in_the_third_run*"])
    # The measured growth is recorded in the JUnit XML for CI.
    assert 'name="memdoctor_growth_bytes_per_iteration"' in (pytester.path / "report.xml").read_text()


@integration
def test_memdoctor_option_applies_a_budget_to_unmarked_tests(pytester: pytest.Pytester):
    pytester.makepyfile(test_plain='''
        import pytest

        _KEPT = []

        def test_unmarked_leak():
            _KEPT.append(bytearray(256 * 1024))

        def test_unmarked_healthy():
            assert sum(range(1000)) == 499500

        @pytest.mark.memdoctor(enabled=False)
        def test_opted_out_leak():
            _KEPT.append(bytearray(256 * 1024))
    ''')
    without = _run(pytester)
    without.assert_outcomes(passed=3)
    assert "memdoctor:" not in without.stdout.str()  # nothing measured, nothing said
    with_option = _run(pytester, "--memdoctor", "--memdoctor-iterations", "4", "--memdoctor-max-growth", "64KB")
    with_option.assert_outcomes(passed=2, failed=1)
    with_option.stdout.fnmatch_lines(["*memdoctor: 2 test(s) measured (memray), 1 retained more memory*",
                                      "*FAILED test_plain.py::test_unmarked_leak*"])
    line = _line_of(pytester.path / "test_plain.py", "_KEPT.append(bytearray")
    assert f"test_plain.py:{line} in test_unmarked_leak  +256." in with_option.stdout.str()


@integration
@pytest.mark.parametrize(("marker", "expected"), [
    ('max_growth="lots"', "max_growth: cannot read size 'lots'"),
    ("iterations=1", "iterations must be between 3"),
    ('max_growht="1MB"', "unknown argument max_growht"),
    ('"1MB"', "keyword arguments only"),
    ('max_peak="a lot"', "max_peak: cannot read size 'a lot'"),
])
def test_bad_marker_arguments_are_a_usage_error(pytester: pytest.Pytester, marker: str, expected: str):
    pytester.makepyfile(test_bad=f'''
        import pytest

        @pytest.mark.memdoctor({marker})
        def test_one():
            pass
    ''')
    result = _run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.str()
    assert "test_bad.py::test_one: @pytest.mark.memdoctor:" in errors[0] and expected in errors[0]
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


@integration
def test_bad_option_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = _run(pytester, "--memdoctor", "--memdoctor-max-growth", "5 parsecs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: --memdoctor-max-growth: unknown size unit 'parsecs'" in result.stderr.str()


def test_judgement_needs_a_sustained_slope():
    budget = 1000.0
    assert judge_runs([0, 2000, 4000, 6000, 8000], budget).failed
    # One step (a cache filled once, anywhere in the run) is not growth per iteration.
    for at in range(1, 5):
        values = [0.0 if i < at else 50_000.0 for i in range(5)]
        assert not judge_runs(values, budget).failed, values
    assert not judge_runs([100, 90, 120, 80, 110], budget).failed
    assert sen_slope_per_run([0, 10, 20, 1000, 40]) == pytest.approx(10.0)


def test_entry_point_when_installed():
    names = {ep.name: ep.value for ep in metadata.entry_points(group="pytest11")}
    if "memdoctor" not in names:
        pytest.skip("the pytest11 entry point is not installed yet (pip install -e . after pyproject has it)")
    assert names["memdoctor"] == "memdoctor.pytest_plugin"


@pytest.mark.integration
def test_plugin_import_is_light():
    code = ("import sys; import memdoctor.pytest_plugin; "
            "print(sorted(m for m in ('numpy', 'rich', 'typer', 'psutil', 'memray', 'pympler') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"



# ---- pytest-memray's leak and limit scenarios, written anew ---------------------------------------

def _native_library(directory: Path) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc): the native-allocation scenarios build a small C library")
    source = directory / "native.c"
    source.write_text(NATIVE_C)
    library = directory / "libnative.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)], check=True)
    return library


def _native_header(library: Path) -> str:
    return f'''import ctypes
import threading

import pytest

_NATIVE = ctypes.CDLL({str(library)!r})
_NATIVE.grab.restype = ctypes.c_void_p
_NATIVE.grab.argtypes = [ctypes.c_size_t]
'''


def _line_of(path: Path, text: str) -> int:
    return 1 + next(i for i, line in enumerate(path.read_text().splitlines()) if text in line)


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Test name -> PASSED / FAILED, from the -rA short summary."""
    found = {}
    for line in result.stdout.lines:
        for word in ("PASSED", "FAILED"):
            if line.startswith(word + " "):
                found[line.split()[1].split("::", 1)[1]] = word
    return found


@integration
def test_native_valloc_leak_fails_from_1024_bytes_a_call_at_a_5kb_budget(pytester: pytest.Pytester):
    # pytest-memray's test_leak_marker: ten valloc(size) per call, never freed, budget 5 KB.
    library = _native_library(pytester.path)
    pytester.makepyfile(test_valloc=_native_header(library) + '''

@pytest.mark.parametrize("size", [0, 1, 102, 1024, 10240])
@pytest.mark.memdoctor(max_growth="5KB")
def test_valloc_never_freed(size):
    for _ in range(10):
        _NATIVE.grab(size)
''')
    line = _line_of(pytester.path / "test_valloc.py", "_NATIVE.grab(size)")
    result = _run(pytester, "-rA")
    assert _outcomes(result) == {
        "test_valloc_never_freed[0]": "PASSED",
        "test_valloc_never_freed[1]": "PASSED",
        "test_valloc_never_freed[102]": "PASSED",
        "test_valloc_never_freed[1024]": "FAILED",
        "test_valloc_never_freed[10240]": "FAILED",
    }
    out = result.stdout.str()
    # The site is the test's line that called into C, with the allocator named.
    assert f"test_valloc.py:{line} in test_valloc_never_freed  +10.0 KiB per run (10 blocks)  [native: valloc]" in out
    assert "+100.0 KiB per run (10 blocks)  [native: valloc]" in out


@integration
def test_native_leak_in_a_thread_of_untouched_pages_fails(pytester: pytest.Pytester):
    # pytest-memray's test_leak_marker_in_a_thread: 10 x 4 MiB a call from another thread, pages never
    # touched (RSS hardly moves), budget 20 MB: must fail. A tenth of it must pass.
    library = _native_library(pytester.path)
    pytester.makepyfile(test_thread=_native_header(library) + '''

def _allocate(size):
    for _ in range(10):
        _NATIVE.grab(size)


@pytest.mark.parametrize("size", [4 * 1024, 400 * 1024, 4 * 1024 * 1024])
@pytest.mark.memdoctor(max_growth="20MB", iterations=4)
def test_thread_never_frees(size):
    worker = threading.Thread(target=_allocate, args=(size,))
    worker.start()
    worker.join()
''')
    line = _line_of(pytester.path / "test_thread.py", "_NATIVE.grab(size)")
    result = _run(pytester, "-rA")
    assert _outcomes(result) == {
        "test_thread_never_frees[4096]": "PASSED",
        "test_thread_never_frees[409600]": "PASSED",
        "test_thread_never_frees[4194304]": "FAILED",
    }
    out = result.stdout.str()
    assert "grew 40.0 MiB per run (budget 20.0 MiB per run)" in out
    # Named where the thread allocates, with the Python stack that led there.
    assert f"test_thread.py:{line} in _allocate  +40.0 MiB per run (10 blocks)  [native: valloc]" in out
    assert "called from" in out and "threading.py" in out


@integration
def test_peak_over_budget_fails_with_the_sites_alive_at_the_peak(pytester: pytest.Pytester):
    # pytest-memray's limit_memory and memray's tutorial exercise 2: several large buffers alive at once.
    pytester.makepyfile(test_peak='''
import pytest


def load(mib):
    return bytearray(mib << 20)


def transform(data):
    return bytes(data)


def pipeline():
    raw = load(24)
    copy = transform(raw)
    return len(raw) + len(copy)


@pytest.mark.memdoctor(max_peak="32MB")
def test_two_copies_alive_at_once():
    assert pipeline() == 48 << 20


@pytest.mark.memdoctor(max_peak="64MB")
def test_the_same_within_a_larger_budget():
    assert pipeline() == 48 << 20
''')
    result = _run(pytester, "-rA", "--junitxml=report.xml")
    assert _outcomes(result) == {"test_two_copies_alive_at_once": "FAILED",
                                 "test_the_same_within_a_larger_budget": "PASSED"}
    out = result.stdout.str()
    assert "peak memory allocated in one run 48.0 MiB exceeds max_peak 32.0 MiB (run 1 of 1; memray)" in out
    load, transform = (_line_of(pytester.path / "test_peak.py", text) for text in ("bytearray(mib", "bytes(data)"))
    assert f"test_peak.py:{load} in load  +24.0 MiB" in out
    assert f"test_peak.py:{transform} in transform  +24.0 MiB" in out
    assert "1 exceeded their peak budget" in out
    assert 'name="memdoctor_peak_bytes"' in (pytester.path / "report.xml").read_text()


@integration
def test_suite_wide_peak_budget_runs_unmarked_tests_once(pytester: pytest.Pytester):
    pytester.makepyfile(test_wide='''
_RUNS = []


def test_big():
    _RUNS.append(None)
    assert len(_RUNS) == 1  # run once: the peak question needs one run
    block = bytearray(40 << 20)
    assert len(block) == 40 << 20


def test_small():
    assert len(bytearray(1 << 20)) == 1 << 20
''')
    result = _run(pytester, "-rA", "--memdoctor-max-peak", "16MB")
    assert _outcomes(result) == {"test_big": "FAILED", "test_small": "PASSED"}
    assert "peak memory allocated in one run 40.0 MiB exceeds max_peak 16.0 MiB" in result.stdout.str()


@integration
def test_cache_filled_once_and_an_empty_test_pass_tight_budgets(pytester: pytest.Pytester):
    # pytest-memray fails a test that fills a cache on its first call at any budget below the cache's
    # size, and its docs warn that interpreter caches (~90 B) fail a 0 B budget; here both pass.
    pytester.makepyfile(test_tight='''
import functools

import pytest


@functools.cache
def table(n):
    return [bytes(256) for _ in range(n)]


@pytest.mark.memdoctor(max_growth="1KB")
def test_cache_filled_on_the_first_call():
    assert len(table(4000)) == 4000


@pytest.mark.memdoctor(max_growth="1B")
def test_empty():
    pass
''')
    result = _run(pytester, "-rA")
    assert _outcomes(result) == {"test_cache_filled_on_the_first_call": "PASSED", "test_empty": "PASSED"}


@integration
def test_tracemalloc_fallback_still_catches_python_leaks(pytester: pytest.Pytester):
    pytester._monkeypatch.setenv("MEMDOCTOR_PYTEST_TRACKER", "tracemalloc")
    pytester.makepyfile(test_fallback='''
import pytest

_KEPT = []


@pytest.mark.memdoctor(max_growth="16KB", max_peak="1GB")
def test_keeps_lists():
    _KEPT.append([object() for _ in range(2000)])
''')
    result = _run(pytester, "-rA")
    assert _outcomes(result) == {"test_keeps_lists": "FAILED"}
    out = result.stdout.str()
    assert "Python memory left behind per run (tracemalloc) grew" in out
    assert f"test_fallback.py:{_line_of(pytester.path / 'test_fallback.py', 'object()')}" in out
    assert "  object " in out
    assert "(tracemalloc)" in out


@integration
def test_a_memray_tracker_already_running_falls_back_to_tracemalloc(pytester: pytest.Pytester):
    # As under `memray run` or another plugin's tracker: memray allows one tracker per process.
    pytester.makeconftest('''
import memray

_SESSION = {}


def pytest_sessionstart(session):
    _SESSION["tracker"] = memray.Tracker(str(session.config.rootpath / "session.bin"))
    _SESSION["tracker"].__enter__()


def pytest_sessionfinish(session):
    _SESSION["tracker"].__exit__(None, None, None)
''')
    pytester.makepyfile(test_busy='''
import pytest

_KEPT = []


@pytest.mark.memdoctor(max_growth="16KB")
def test_keeps_buffers():
    _KEPT.append(bytearray(64 * 1024))
''')
    result = _run(pytester, "-rA")
    assert _outcomes(result) == {"test_keeps_buffers": "FAILED"}
    assert "Python memory left behind per run (tracemalloc) grew" in result.stdout.str()


@integration
def test_a_quick_test_whose_runs_share_one_capture_is_judged_on_what_the_last_run_leaves(pytester: pytest.Pytester):
    # Quick tests get one memray capture for all their runs after the warm-up: memory a run keeps
    # only until the next run replaces it is not left behind; memory every run adds is.
    pytester.makepyfile(test_quick='''
import pytest

_LATEST = None
_ALL = []


@pytest.mark.memdoctor(max_growth="16KB")
def test_replaces_its_buffer():
    global _LATEST
    _LATEST = bytearray(100 * 1024)


@pytest.mark.memdoctor(max_growth="16KB")
def test_keeps_every_buffer():
    _ALL.append(bytearray(100 * 1024))
''')
    result = _run(pytester, "-rA")
    assert _outcomes(result) == {"test_replaces_its_buffer": "PASSED", "test_keeps_every_buffer": "FAILED"}
    assert "each run after the warm-up: +100.1 KiB, +100.1 KiB, +100.1 KiB, +100.1 KiB, +100.1 KiB" in (
        result.stdout.str())


# ---- memdoctor_watch: a process the test starts, judged by the one diagnosis ----------------------

# The servers keep a fixed time grid (start + k * period): a loaded CI machine delays a tick but never
# slows the rate (tests/test_recording.py LEAK_400KB_EVERY_50MS). Their rates and lengths are the
# gate's tests' (tests/test_gate.py): a leak of 400 KiB every 50 ms judged on 6 s, healthy_worker.py's
# 400 KiB request every 20 ms, its buffers freed, judged on 8 s with a 1 s warm-up. Each prints a line
# once it has run that long (the test's "load is done"), then goes on until the test kills it.
WATCHED_SERVERS = '''
import subprocess
import sys

import pytest

LEAKING = """
import time
kept = []
start = time.monotonic()
k = 0
while time.monotonic() < start + 60:
    kept.append(bytearray(400 * 1024))  # never freed: 8 MiB/s
    k += 1
    if k == 120:
        print("6 s", flush=True)
    time.sleep(max(0.0, start + k * 0.05 - time.monotonic()))
"""

HEALTHY = """
import time
start = time.monotonic()
k = 0
done = []
while time.monotonic() < start + 60:
    body = bytearray(400 * 1024)
    done.append(len([bytes(body[i:i + 4096]) for i in range(0, len(body), 4096)]))
    if len(done) >= 20:
        done.clear()  # the requests' buffers are gone: nothing is kept
    k += 1
    if k == 400:
        print("8 s", flush=True)
    time.sleep(max(0.0, start + k * 0.02 - time.monotonic()))
"""


@pytest.fixture
def server():
    started = []

    def start(code):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()
        proc.stdout.close()
'''


def _sections(result: pytest.RunResult) -> dict[str, list[str]]:
    """Test name -> the lines of its failure or error section (the lines pytest prints under its title)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in result.stdout.lines:
        if line.startswith("__") and line.endswith("__") and line.strip("_ "):
            name = line.strip("_ ").split()[-1]  # "test_x" or "ERROR at teardown of test_x"
            current = found.setdefault(name, [])
        elif line[:2] in ("==", "--") and line[-2:] in ("==", "--"):  # the next section (the plugin's summary)
            current = None
        elif current is not None and line.strip():
            current.append(line)
    return found


@integration
def test_watch_fails_a_leaking_server_with_the_one_diagnosis(pytester: pytest.Pytester):
    pytester.makepyfile(test_soak=WATCHED_SERVERS + '''

def test_leaking_server(server, memdoctor_watch):
    proc = server(LEAKING)
    watch = memdoctor_watch(proc.pid, warmup="1s")
    proc.stdout.readline()  # the load has run
    watch.stop()


def test_leaking_server_judged_at_teardown(server, memdoctor_watch):
    proc = server(LEAKING)
    memdoctor_watch(proc.pid, warmup="1s")
    proc.stdout.readline()
    proc.kill()  # the server is gone before the watch is stopped: what was recorded is judged
    proc.wait()
''')
    result = _run(pytester, "-rA")
    # The teardown's judgement fails a test whose call passed: an error at teardown.
    result.assert_outcomes(passed=1, failed=1, errors=1)
    sections = _sections(result)
    for name in ("test_leaking_server", "test_leaking_server_judged_at_teardown"):
        message = "\n".join(sections[name])
        assert "FAILS the watch: verdict leak (" in message and "growth " in message, message
        assert "failed: verdict leak" in message and "evidence: " in message, message
        assert "Traceback" not in message
        trace = re.search(r"  trace: (\S+/memdoctor-watch-\d+\.jsonl)$", message, re.MULTILINE)
        assert trace is not None, message
        # The trace is there for `memdoctor analyze`, which gives the same answer.
        analyze = json.loads(memdoctor("analyze", trace.group(1), "--warmup", "1s", "--json", check_code=0).stdout)
        assert analyze["verdict"] == "leak", analyze
        assert f"verdict leak ({analyze['pattern']})" in message
        assert f"memdoctor gate --trace {trace.group(1)} --warmup 1s" in message
    assert "the process exited before the watch was stopped" in "\n".join(
        sections["test_leaking_server_judged_at_teardown"])
    assert "the process exited" not in "\n".join(sections["test_leaking_server"])


@integration
def test_watch_passes_a_healthy_server_and_leaves_it_running(pytester: pytest.Pytester):
    pytester.makepyfile(test_soak=WATCHED_SERVERS + '''

def test_healthy_server(server, memdoctor_watch):
    proc = server(HEALTHY)
    watch = memdoctor_watch(proc.pid, warmup="1s", max_growth="5MB/min")
    proc.stdout.readline()
    result = watch.stop()
    assert result.passed and result.diagnosis.verdict != "leak", result.message
    assert proc.poll() is None  # the watch only observed


def test_a_server_that_exits_is_judged_on_what_was_recorded(server, memdoctor_watch):
    proc = server("import time; print('ready', flush=True); time.sleep(1)")
    proc.stdout.readline()  # started: its imports are not part of the recording
    watch = memdoctor_watch(proc.pid)
    proc.wait()
    result = watch.stop(check=False)
    assert result.diagnosis.verdict != "leak", result.message
    assert any(note.startswith("the process exited before the watch was stopped") for note in result.notes), (
        result.notes)
''')
    result = _run(pytester, "-rA")
    assert _outcomes(result) == {"test_healthy_server": "PASSED",
                                 "test_a_server_that_exits_is_judged_on_what_was_recorded": "PASSED"}, (
        result.stdout.str()[-3000:])


@integration
def test_watch_bad_arguments_fail_the_test_in_one_line(pytester: pytest.Pytester):
    pytester.makepyfile(test_bad_watch='''
import os
import subprocess
import sys

import pytest


@pytest.mark.memdoctor(iterations=3)
def test_repeated(memdoctor_watch):
    memdoctor_watch(os.getpid())


def test_interval(memdoctor_watch):
    memdoctor_watch(os.getpid(), interval="fast")


def test_limit(memdoctor_watch):
    memdoctor_watch(os.getpid(), limit="lots")


def test_fail_on(memdoctor_watch):
    memdoctor_watch(os.getpid(), fail_on="sometimes")


def test_pid(memdoctor_watch):
    memdoctor_watch(str(os.getpid()))


def test_gone(memdoctor_watch):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    memdoctor_watch(gone.pid)

''')
    result = _run(pytester, "-rA")
    result.assert_outcomes(failed=6)
    out = result.stdout.str()
    assert "Traceback" not in out and "During handling" not in out
    expected = {
        "test_interval": "memdoctor_watch: interval: cannot read duration 'fast'",
        "test_limit": "memdoctor_watch: limit: cannot read size 'lots'",
        "test_fail_on": "memdoctor_watch: fail_on takes leak or inconclusive, not sometimes",
        "test_pid": "memdoctor_watch: the first argument is the PID to watch",
        "test_gone": "memdoctor_watch: no process with PID",
        # The per-run budget runs the test three times: three watches of one process. Refused, in one line.
        "test_repeated": "memdoctor_watch: this test is run again and again by the per-run leak budget",
    }
    sections = _sections(result)
    for name, start in expected.items():
        assert len(sections[name]) == 1 and sections[name][0].startswith(start), (name, sections.get(name))
