"""memdoctor's pytest plugin: its cost on unmarked tests, and what it catches beside pytest-memray.

    pip install pytest-memray
    PYTHONPATH=. python3 benchmarks/pytest_plugin_overhead.py [--repeats 30] [--peer-repeats 3] [--big-repeats 2]

Part 1, overhead: a suite of 200 quick unmarked tests (10 files x 20) run by pytest in a
subprocess, alternately without and with `-p memdoctor.pytest_plugin` (no --memdoctor), in the
same run; the median and minimum wall time of each, and the median of the paired ratios (runs back to
back; target < 1.05). Also the plugin's own time in one session, measured in-process by cProfile. Also pytest's own
session time ("passed in X s"), and the same suite with pytest-memray loaded (without and with
--memray) and with --memdoctor, for scale. Third-party plugin autoloading is off in every run
(PYTEST_DISABLE_PLUGIN_AUTOLOAD=1) so that each run loads exactly the plugins named.

Part 2, the same leaking tests under both plugins: a pure-Python object leak, a bytearray
leak, a leak of memory from libc malloc through ctypes (outside the allocators memray hooks), a slow
leak (16 KiB per call), a leak of malloc'd memory inside a small C library built with cc, a
healthy test that fills a module cache once (2 MiB on the first call only), and a healthy test
that allocates and frees 20 MiB per call. memdoctor: `@pytest.mark.memdoctor(max_growth=B,
iterations=6)` (and `rss=True` for the ctypes malloc); pytest-memray: `@pytest.mark.limit_leaks(B)`
with `--memray`. Two budgets B: 1 MB and 8 KB. Prints which tests each fails, its wall time and
peak RSS (the child's own, from wait4), runs interleaved.

Part 3, pytest-memray's own leak and limit scenarios and memray's tutorial exercises 2 and 3,
written anew: valloc from C code ten times a call at 0, 1, 102, 1024 and 10240 B against 5 KB;
the same in a thread at 4 MiB a call (pages never touched) against 20 MB; four 100 MiB numpy
arrays alive at once against a 230 MB peak; a functools.cache on a method (every instance kept,
~0.75 GB a call) against the tutorial's 75 MB peak and against a 1 MB leak budget. Each tool runs
each file in its own pytest process, interleaved; wall time, peak RSS and their ratios to
pytest-memray (target <= 1.5).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMDOCTOR = ["-p", "memdoctor.pytest_plugin"]
MEMRAY = ["-p", "pytest_memray.plugin"]

QUICK_FILE = "\n".join(f"def test_quick_{i}():\n    assert sum(range({i} + 10)) >= 0\n" for i in range(20))

SCENARIOS = {
    "object_leak": ("a pure-Python object leak (2,000 small objects per call)", '''
    for i in range(2000):
        _HELD.append(Session(i))'''),
    "bytearray_leak": ("a bytearray leak (1 MiB per call)", '''
    _HELD.append(bytearray(1 << 20))'''),
    "malloc_leak": ("native memory from libc malloc via ctypes (1 MiB per call)", '''
    block = _LIBC.malloc(1 << 20)
    ctypes.memset(block, 1, 1 << 20)'''),
    "c_library_leak": ("native memory from malloc inside a C library (1 MiB per call)", '''
    _LIBLEAK.leak(1 << 20)'''),
    "slow_leak": ("a slow leak: 16 KiB per call", '''
    _HELD.append(bytes(16 * 1024))'''),
    "cache_once": ("healthy: a module cache filled once (2 MiB, first call only)", '''
    if not _CACHE:
        _CACHE.update((i, bytes(1024)) for i in range(2048))'''),
    "churn": ("healthy: 20 MiB allocated and freed per call", '''
    scratch = [bytearray(1 << 20) for _ in range(20)]
    assert len(scratch) == 20'''),
}

HEADER = '''import ctypes

import pytest

_HELD = []
_CACHE = {}
_LIBC = ctypes.CDLL(None)
_LIBC.malloc.restype = ctypes.c_void_p
_LIBLEAK = ctypes.CDLL("./libleak.so")
_LIBLEAK.leak.restype = ctypes.c_void_p
_LIBLEAK.leak.argtypes = [ctypes.c_size_t]


class Session:
    def __init__(self, i):
        self.i = i
        self.name = "user-" + str(i)
'''


# A C library that leaks: its malloc goes through the library's own symbol binding (as in a C
# extension), unlike ctypes' malloc above, which calls libc's malloc through a pointer from dlsym.
LEAK_C = """#include <stdlib.h>
#include <string.h>
void *leak(size_t n) { void *p = malloc(n); memset(p, 1, n); return p; }
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # Byte-compiled, as an installed package is (pip compiles at install): without a __pycache__,
    # every run would compile the plugin's source again (~5 ms) and measure that instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _pytest(cwd: Path, args: list[str]) -> tuple[float, float | None, subprocess.CompletedProcess]:
    wall, session, proc, _ = _pytest_rss(cwd, args)
    return wall, session, proc


def _pytest_rss(cwd: Path, args: list[str]) -> tuple[float, float | None, subprocess.CompletedProcess, int]:
    """One pytest run in a subprocess: wall seconds, pytest's own session seconds, the process, and
    its peak RSS in bytes (the child's own rusage from wait4, not a sampler's)."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, env=_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        proc = subprocess.CompletedProcess(argv, child.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))
    m = re.search(r" in ([0-9.]+)s", proc.stdout)
    return wall, float(m.group(1)) if m else None, proc, usage.ru_maxrss * 1024  # ru_maxrss: KiB on Linux


def overhead(repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="md-overhead-") as tmp:
        d = Path(tmp)
        for k in range(10):
            (d / f"test_quick_{k}.py").write_text(QUICK_FILE)
        variants = {
            "plain pytest": [],
            "memdoctor loaded": MEMDOCTOR,
            "pytest-memray loaded": MEMRAY,
        }
        scale = {
            "memdoctor --memdoctor (every test x6)": [*MEMDOCTOR, "--memdoctor"],
            "pytest-memray --memray (every test tracked)": [*MEMRAY, "--memray"],
        }
        for args in (*variants.values(), *scale.values()):  # warm the file system cache, check it runs
            _, _, proc = _pytest(d, args)
            assert proc.returncode == 0 and "200 passed" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
        walls: dict[str, list[float]] = {k: [] for k in variants}
        sessions: dict[str, list[float]] = {k: [] for k in variants}
        for i in range(repeats):  # interleaved (order alternating), so that machine noise hits every variant alike
            for name, args in (variants.items() if i % 2 else reversed(variants.items())):
                wall, session, _ = _pytest(d, args)
                walls[name].append(wall)
                if session is not None:
                    sessions[name].append(session)
        for name, args in scale.items():
            for _ in range(max(3, repeats // 5)):
                wall, session, _ = _pytest(d, args)
                walls.setdefault(name, []).append(wall)
                sessions.setdefault(name, []).append(session or 0.0)
    base_wall = statistics.median(walls["plain pytest"])
    base_min = min(walls["plain pytest"])
    print(f"200 quick unmarked tests, {repeats} interleaved runs per variant (medians; the last two rows: "
          f"{max(3, repeats // 5)} runs):\n")
    print("| variant | wall s (median) | ratio | wall s (min) | ratio | paired ratio (median) | pytest session s |")
    print("|---|---|---|---|---|---|---|")
    for name in walls:
        w, s = statistics.median(walls[name]), statistics.median(sessions[name])
        paired = "-"
        if len(walls[name]) == len(walls["plain pytest"]):
            paired = f"{statistics.median(a / b for a, b in zip(walls[name], walls['plain pytest'], strict=True)):.3f}"
        print(f"| {name} | {w:.3f} | {w / base_wall:.3f} | {min(walls[name]):.3f} | {min(walls[name]) / base_min:.3f} "
              f"| {paired} | {s:.2f} |")
    own = _own_cost()
    ratio = statistics.median(a / b for a, b in zip(walls["memdoctor loaded"], walls["plain pytest"], strict=True))
    print(f"\nmemdoctor's own hooks in one session (cProfile, in-process): {own * 1000:.2f} ms")
    print(f"[{'PASS' if ratio < 1.05 else 'MISS'}] memdoctor plugin loaded, no --memdoctor: paired wall ratio "
          f"{ratio:.3f} < 1.05")


def _own_cost() -> float:
    """Cumulative time of the plugin's module import and hooks in one pytest session of the 200 tests."""
    code = (
        "import cProfile, pstats, pytest\n"
        "pr = cProfile.Profile(); pr.enable()\n"
        "import memdoctor.pytest_plugin as plugin\n"
        "pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'memdoctor.pytest_plugin'])\n"
        "pr.disable()\n"
        "st = pstats.Stats(pr).stats\n"
        "mine = [v[3] for k, v in st.items() if k[0] == plugin.__file__ and k[2].startswith(('pytest_', '<module>'))]\n"
        "print(sum(mine))"
    )
    with tempfile.TemporaryDirectory(prefix="md-own-") as tmp:
        for k in range(10):
            (Path(tmp) / f"test_quick_{k}.py").write_text(QUICK_FILE)
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=_env(), capture_output=True, text=True)
    return float(proc.stdout.strip().splitlines()[-1])


def _suite(tool: str, budget: str) -> str:
    out = [HEADER]
    for name, (_, body) in SCENARIOS.items():
        if tool == "memdoctor":
            rss = ", rss=True" if name == "malloc_leak" else ""  # libc through ctypes: memray cannot see it
            out.append(f'\n@pytest.mark.memdoctor(max_growth="{budget}", iterations=6{rss})')
        else:
            out.append(f'\n@pytest.mark.limit_leaks("{budget}")')
        out.append(f"def test_{name}():{body}\n")
    return "\n".join(out)


def _outcomes(junit: Path) -> dict[str, str]:
    res = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "").removeprefix("test_")
        res[name] = "FAIL" if case.find("failure") is not None or case.find("error") is not None else "pass"
    return res


def compare(repeats: int) -> None:
    budgets = ("1MB", "8KB")
    tools = {
        "memdoctor": (MEMDOCTOR, "memdoctor"),
        "pytest-memray": ([*MEMRAY, "--memray"], "memray"),
        "plain pytest (no check)": ([], "memray"),  # the memray markers are inert without --memray
    }
    table: dict[tuple[str, str], dict[str, str]] = {}
    times: dict[tuple[str, str], list[float]] = {}
    rss: dict[tuple[str, str], list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="md-compare-") as tmp:
        dirs: dict[tuple[str, str], Path] = {}
        for budget in budgets:
            for tool, (_, flavour) in tools.items():
                d = dirs[(tool, budget)] = Path(tmp) / f"{flavour}-{budget}-{len(dirs)}"
                d.mkdir()
                (d / "test_leaks.py").write_text(_suite(flavour, budget))
                (d / "leak.c").write_text(LEAK_C)
                subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(d / "libleak.so"), str(d / "leak.c")],
                               check=True)
        for i in range(repeats):  # interleaved, order alternating
            keys = list(dirs) if i % 2 else list(reversed(dirs))
            for key in keys:
                wall, _, proc, peak = _pytest_rss(dirs[key], [*tools[key[0]][0], "--junitxml=r.xml"])
                times.setdefault(key, []).append(wall)
                rss.setdefault(key, []).append(peak)
                table[key] = _outcomes(dirs[key] / "r.xml")
                if proc.returncode not in (0, 1):
                    print(proc.stdout[-3000:], proc.stderr[-3000:])
    print("\nThe same seven tests under each plugin (FAIL = the plugin failed the test):\n")
    header = ["test", *(f"{tool} {b}" for b in budgets for tool in tools if not tool.startswith("plain"))]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for name, (label, _) in SCENARIOS.items():
        cells = [table[(tool, b)].get(name, "?") for b in budgets for tool in tools if not tool.startswith("plain")]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\nWall time and peak RSS of the seven-test file (medians of {repeats} interleaved runs):\n")
    print("| tool | budget | wall s | ratio to plain | ratio to pytest-memray | peak RSS MiB "
          "| ratio to pytest-memray |")
    print("|---|---|---|---|---|---|---|")
    for budget in budgets:
        base = statistics.median(times[("plain pytest (no check)", budget)])
        peer = statistics.median(times[("pytest-memray", budget)])
        peer_rss = statistics.median(rss[("pytest-memray", budget)])
        for tool in tools:
            w, r = statistics.median(times[(tool, budget)]), statistics.median(rss[(tool, budget)])
            print(f"| {tool} | {budget} | {w:.2f} | {w / base:.2f} | {w / peer:.2f} | {r / 2**20:.0f} "
                  f"| {r / peer_rss:.2f} |")


# ---- Part 3: pytest-memray's own leak and limit scenarios, and memray's tutorial exercises ----------
# Written anew for this benchmark. The native allocations come from a small C library (valloc called
# through its PLT, as a C extension's are), loaded with ctypes.

NATIVE_C = """#include <stdlib.h>
void *grab(size_t n) { return valloc(n); }
"""

NATIVE_HEADER = '''import ctypes
import threading

import pytest

_NATIVE = ctypes.CDLL("./libnative.so")
_NATIVE.grab.restype = ctypes.c_void_p
_NATIVE.grab.argtypes = [ctypes.c_size_t]


def _allocate(size):
    for _ in range(10):
        _NATIVE.grab(size)
'''

# A method cache that keeps every instance it was called on (its key holds `self`), so each call of
# the test leaves all its instances' entries behind: big integers, ~0.75 GB a call.
METHOD_CACHE = '''import functools
from collections import Counter


class Ladder:
    def __init__(self, step):
        self.step = step

    @functools.cache
    def rung(self, n):
        return n * self.rung(n - 1) + self.step if n else 1 + self.step


def last_digits(ladders, height):
    for step in range(ladders):
        ladder = Ladder(step)
        for n in range(height):
            yield ladder.rung(n) % 10


def digit_counts():
    return Counter(last_digits(500, 500)), Counter(last_digits(1000, 1000))
'''

# Four 100 MiB arrays alive at once on the way to the result (peak ~400 MiB).
ARRAY_PIPELINE = '''import numpy as np


def pipeline(mib=100):
    ones = np.ones(mib << 20, dtype=np.uint8)
    lowered = ones - 3
    squared = np.power(lowered, 2)
    return squared * 2 + 10
'''

# name -> (label, helper module source or None, test body, memdoctor marker, pytest-memray marker, expected)
PEER_SCENARIOS = {
    "valloc": ("native valloc x10 per call at 0, 1, 102, 1024, 10240 B; 5 KB budget (pytest-memray test_leak_marker)",
               None, '''
@pytest.mark.parametrize("size", [0, 1, 102, 1024, 10240])
{marker}
def test_valloc(size):
    _allocate(size)
''', 'memdoctor(max_growth="5KB")', 'limit_leaks("5KB")', "1024 and 10240 fail"),
    "thread": ("the same in a thread, 4 MiB per call (pages never touched); 20 MB budget",
               None, '''
{marker}
def test_thread():
    worker = threading.Thread(target=_allocate, args=(4 << 20,))
    worker.start()
    worker.join()
''', 'memdoctor(max_growth="20MB")', 'limit_leaks("20MB")', "fails"),
    "exercise2_peak": ("memray tutorial exercise 2 (written anew): ~400 MiB peak vs a 230 MB limit",
                       ARRAY_PIPELINE, '''
{marker}
def test_pipeline():
    assert int(pipeline()[0]) == 18
''', 'memdoctor(max_peak="230MB")', 'limit_memory("230 MB")', "fails"),
    "exercise3_peak": ("memray tutorial exercise 3 (written anew): a method cache, tutorial's 75 MB limit",
                       METHOD_CACHE, '''
{marker}
def test_digit_counts():
    digit_counts()
''', 'memdoctor(max_peak="75MB")', 'limit_memory("75 MB")', "fails"),
    "exercise3_leak": ("the same method cache as a leak: 1 MB per call leak budget",
                       METHOD_CACHE, '''
{marker}
def test_digit_counts():
    digit_counts()
''', 'memdoctor(max_growth="1MB")', 'limit_leaks("1MB")', "fails"),
}


def _peer_file(name: str, tool: str) -> str:
    _, helper, body, md_marker, memray_marker, _ = PEER_SCENARIOS[name]
    marker = "@pytest.mark." + (md_marker if tool == "memdoctor" else memray_marker)
    head = NATIVE_HEADER if helper is None else "import pytest\n\nfrom helper import *  # noqa: F403\n"
    return head + "\n" + body.format(marker=marker)


def peers(repeats: int, big_repeats: int, only: list[str] | None) -> None:
    tools = {"memdoctor": MEMDOCTOR, "pytest-memray": [*MEMRAY, "--memray"]}
    rows = []
    with tempfile.TemporaryDirectory(prefix="md-peers-") as tmp:
        for name, (label, helper, *_rest, expected) in PEER_SCENARIOS.items():
            if only and name not in only:
                continue
            n = big_repeats if name.startswith("exercise") else repeats
            dirs = {}
            for tool in tools:
                d = dirs[tool] = Path(tmp) / f"{name}-{tool}"
                d.mkdir()
                (d / f"test_{name}.py").write_text(_peer_file(name, tool))
                if helper is None:
                    (d / "native.c").write_text(NATIVE_C)
                    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(d / "libnative.so"),
                                    str(d / "native.c")], check=True)
                else:
                    (d / "helper.py").write_text(helper)
            walls: dict[str, list[float]] = {t: [] for t in tools}
            peaks: dict[str, list[int]] = {t: [] for t in tools}
            failed: dict[str, str] = {}
            for i in range(n):
                for tool in (tools if i % 2 else reversed(tools)):
                    wall, _, proc, peak = _pytest_rss(dirs[tool], [*tools[tool], "--junitxml=r.xml"])
                    walls[tool].append(wall)
                    peaks[tool].append(peak)
                    outcome = _outcomes(dirs[tool] / "r.xml")
                    failed[tool] = ", ".join(k.split("[", 1)[1].rstrip("]") if "[" in k else "fails"
                                             for k, v in outcome.items() if v == "FAIL") or "passes"
                    if proc.returncode not in (0, 1):
                        print(proc.stdout[-3000:], proc.stderr[-3000:])
            w = {t: statistics.median(v) for t, v in walls.items()}
            r = {t: statistics.median(v) for t, v in peaks.items()}
            rows.append((label, expected, failed, w, r, n))
    print("\npytest-memray's own scenarios and memray's tutorial exercises, each tool in its own pytest run "
          "(medians; runs interleaved):\n")
    print("| scenario | expected | memdoctor fails | pytest-memray fails | runs | memdoctor wall s | pytest-memray "
          "wall s | wall ratio | memdoctor peak RSS MiB | pytest-memray peak RSS MiB | RSS ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, expected, failed, w, r, n in rows:
        print(f"| {label} | {expected} | {failed['memdoctor']} | {failed['pytest-memray']} | {n} "
              f"| {w['memdoctor']:.2f} | {w['pytest-memray']:.2f} | {w['memdoctor'] / w['pytest-memray']:.2f} "
              f"| {r['memdoctor'] / 2**20:.0f} | {r['pytest-memray'] / 2**20:.0f} "
              f"| {r['memdoctor'] / r['pytest-memray']:.2f} |")
    worst_wall = max(w["memdoctor"] / w["pytest-memray"] for *_, w, _r, _n in rows)
    worst_rss = max(r["memdoctor"] / r["pytest-memray"] for *_, r, _n in rows)
    print(f"\n[{'PASS' if worst_wall <= 1.5 and worst_rss <= 1.5 else 'MISS'}] worst ratios to pytest-memray: "
          f"wall {worst_wall:.2f}, peak RSS {worst_rss:.2f} (target <= 1.5)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--skip-compare", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--peer-repeats", type=int, default=3, help="runs per tool of each peer scenario")
    ap.add_argument("--big-repeats", type=int, default=2, help="runs per tool of the tutorial exercises (~1 min)")
    ap.add_argument("--only", nargs="*", help=f"peer scenarios to run: {', '.join(PEER_SCENARIOS)}")
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args()
    try:
        import pytest_memray  # noqa: F401
    except ImportError:
        print("pytest-memray is not installed: pip install pytest-memray", file=sys.stderr)
        return 2
    import platform

    import pytest

    from memdoctor import __version__

    print(f"Python {platform.python_version()}, pytest {pytest.__version__}, pytest-memray "
          f"{__import__('importlib.metadata').metadata.version('pytest-memray')}, memdoctor {__version__}, "
          f"nproc {os.cpu_count()}\n")
    if not args.skip_overhead:
        overhead(args.repeats)
    if not args.skip_compare:
        compare(max(3, args.repeats // 5))
    if not args.skip_peers:
        peers(args.peer_repeats, args.big_repeats, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
