"""Run the unit suite N times and the whole suite M times in a row with a CPU hog on every core.

    python3 tests/repeat_under_load.py                 # 20 unit runs, 3 whole-suite runs
    python3 tests/repeat_under_load.py --unit 5 --whole 1

A flaky test is a bug: this is how one is found before CI finds it. The hog is one busy-looping
process per core (os.cpu_count()), started before the first run and killed after the last, so
every run competes for the CPU as on a loaded CI machine. Prints one line per run (passed, failed,
seconds) and a summary; exits 1 when any run had a failure. Results go in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNIT = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not integration", "-n", "2"]
# The whole suite as the README's test command runs it: three workers (most of its time is waiting on child processes).
WHOLE = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "3"]


def _hog() -> None:
    while True:
        pass


def _counts(output: str) -> tuple[int, int]:
    tail = output.strip().splitlines()[-1] if output.strip() else ""
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", tail))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|errors?)", tail))
    return passed, failed


def _run(kind: str, argv: list[str], i: int, keep: Path) -> tuple[int, int, float, str]:
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    passed, failed = _counts(proc.stdout)
    if proc.returncode != 0 and failed == 0:
        failed = 1  # a crash or collection error is a failure too
    failures = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
    print(f"{kind} run {i}: {passed} passed, {failed} failed, {elapsed:.0f} s", flush=True)
    for ln in failures:
        print(f"    {ln}", flush=True)
    if failed:
        # A failure seen once under load may not come back: keep all pytest said about it.
        keep.mkdir(parents=True, exist_ok=True)
        log = keep / f"{kind}-{i}.log"
        log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        print(f"    (pytest's whole output: {log})", flush=True)
    return passed, failed, elapsed, "\n".join(failures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit", type=int, default=20, help="unit-suite runs")
    parser.add_argument("--whole", type=int, default=3, help="whole-suite runs")
    parser.add_argument("--no-hog", action="store_true", help="run on a quiet machine instead")
    parser.add_argument("--keep", type=Path, default=Path("/tmp/memdoctor-repeat"),
                        help="where the whole output of a failing run is written")
    args = parser.parse_args()
    hogs = [] if args.no_hog else [multiprocessing.Process(target=_hog, daemon=True)
                                   for _ in range(os.cpu_count() or 2)]
    for h in hogs:
        h.start()
    results = []
    try:
        results += [("unit", *_run("unit", UNIT, i + 1, args.keep)) for i in range(args.unit)]
        results += [("whole", *_run("whole", WHOLE, i + 1, args.keep)) for i in range(args.whole)]
    finally:
        for h in hogs:
            h.kill()
    for kind in ("unit", "whole"):
        runs = [r for r in results if r[0] == kind]
        if runs:
            secs = [r[3] for r in runs]
            print(f"{kind}: {len(runs)} runs, {sum(r[2] for r in runs)} failures, "
                  f"{min(secs):.0f}-{max(secs):.0f} s per run, hog on {len(hogs)} cores")
    return 1 if any(r[2] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
