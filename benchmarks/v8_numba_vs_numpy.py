"""V8 snapshot kernels: numba against the numba-free paths, end to end (process start-up included).

Does the compiled code (memdoctor/heap/v8/kernels.py) pay for loading numba? On the three
snapshot sizes of benchmarks/v8_diff_vs_memlab.py (heaps of about 5, 150 and 300 MB of
examples/node_heap/map_leak.js, written with --heapsnapshot-signal), each step runs in a fresh
process, timed from its start (interpreter, imports, numba's load or compilation) to its end:

- parse: `parser._read(fast=False)` (numpy only: np.fromstring over blocks of the number
  arrays) against `parser.read_snapshot` (the numba parse_numbers kernel), numba's cache cold
  (an empty NUMBA_CACHE_DIR: compilation included) and warm (the same cache, second run);
- retainers + dominators (the numpy parse first, the same in every variant): the numba kernels
  cold and warm, against the same kernels run as plain Python over the numpy arrays
  (NUMBA_DISABLE_JIT=1: the only numba-free implementation there is), capped at --cap seconds.

Reported per snapshot: wall time, CPU (user + sys, os.wait4) and peak RSS of each variant. No
assertion: the decision and the numbers go in docs/benchmarks.md.

    python3 benchmarks/v8_numba_vs_numpy.py                    # 5/150/300 MB, ~10 minutes
    python3 benchmarks/v8_numba_vs_numpy.py --sizes 5,50,100 --cap 120
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the benchmarks package beside memdoctor
from benchmarks.v8_diff_vs_memlab import signal_snapshot  # noqa: E402

EXAMPLE = ROOT / "examples" / "node_heap" / "map_leak.js"
MIB = 2**20

STEP = """
import json, sys, time
started = time.monotonic()
mode, path = sys.argv[1], sys.argv[2]
from memdoctor.heap.v8 import parser
if mode == "parse-numba":
    snap = parser.read_snapshot(path)
else:
    with open(path, "rb") as fh:
        snap = parser._read(fh, path, fast=False)
parsed = time.monotonic()
if mode.startswith("dominators"):
    from memdoctor.heap.v8 import dominators
    from memdoctor.heap.v8.retainers import RetainerIndex
    index = RetainerIndex(snap)
    dom = dominators.compute(snap, reverse=(index.rev_first, index.rev_edge))
    assert dom.retained[0] > 0
print(json.dumps({"nodes": int(snap.node_count), "parse_s": parsed - started, "kernels_s": time.monotonic() - parsed}))
"""


def write_snapshots(sizes: list[int], work: Path) -> list[Path]:
    target = subprocess.Popen(["node", "--heapsnapshot-signal=SIGUSR2", str(EXAMPLE), "--manual"], cwd=work,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert target.stdin is not None and target.stdout is not None
    snaps = []
    try:
        assert target.stdout.readline().startswith("ready")
        for i, mb in enumerate(sizes):
            target.stdin.write(f"grow-to {mb}\n")
            target.stdin.flush()
            target.stdout.readline()
            path = work / f"snap{i}.heapsnapshot"
            signal_snapshot(target, work, path)
            snaps.append(path)
    finally:
        target.kill()
        target.wait()
    return snaps


def run_step(mode: str, path: Path, env: dict[str, str], cap: float) -> dict:
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", STEP, mode, str(path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = started + cap
    capped = False
    # Output is read on a thread (communicate) while this one waits with wait4 for the rusage.
    reader = ThreadPoolExecutor(1).submit(lambda: (proc.stdout.read(), proc.stderr.read()))  # type: ignore[union-attr]
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() >= deadline and not capped:
            capped = True
            proc.kill()
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = reader.result()
    result = {"mode": mode, "wall_s": time.monotonic() - started, "cpu_s": usage.ru_utime + usage.ru_stime,
              "peak_mib": usage.ru_maxrss / 1024, "capped": capped, "rc": proc.returncode}
    if not capped and proc.returncode == 0:
        result.update(json.loads(out.strip().splitlines()[-1]))
    elif not capped:
        result["error"] = err.strip().splitlines()[-1:] or ["?"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,150,300", help="heap sizes in MB of the three snapshots")
    parser.add_argument("--cap", type=float, default=240.0, help="seconds before a numba-free run is stopped")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="md-v8-numba-"))
    base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "NUMBA_DISABLE_JIT")}
    base_env["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    results = []
    try:
        snaps = write_snapshots([int(s) for s in args.sizes.split(",")], work)
        for path in snaps:
            cache = work / f"numba-cache-{path.stem}"
            cold_env = {**base_env, "NUMBA_CACHE_DIR": str(cache)}
            rows = [run_step("parse-numpy", path, base_env, args.cap)]
            rows.append({**run_step("parse-numba", path, cold_env, args.cap), "mode": "parse-numba cold"})
            rows.append({**run_step("parse-numba", path, cold_env, args.cap), "mode": "parse-numba warm"})
            shutil.rmtree(cache, ignore_errors=True)
            rows.append({**run_step("dominators-numba", path, cold_env, args.cap), "mode": "dominators-numba cold"})
            rows.append({**run_step("dominators-numba", path, cold_env, args.cap), "mode": "dominators-numba warm"})
            rows.append({**run_step("dominators-python", path, {**base_env, "NUMBA_DISABLE_JIT": "1"}, args.cap),
                         "mode": "dominators-python (no JIT)"})
            shutil.rmtree(cache, ignore_errors=True)
            results.append({"file_mib": path.stat().st_size / MIB, "rows": rows,
                            "load": " ".join(Path("/proc/loadavg").read_text().split()[:3])})
            print(f"\nsnapshot {path.stat().st_size / MIB:.0f} MiB ({rows[0].get('nodes', '?')} nodes), "
                  f"load average after: {results[-1]['load']}")
            print(f"  {'variant':<28} {'wall s':>8} {'CPU s':>7} {'peak MiB':>9} {'parse s':>8} {'kernels s':>10}")
            for r in rows:
                if r["capped"]:
                    print(f"  {r['mode']:<28} {'>' + format(args.cap, '.0f'):>8} {r['cpu_s']:7.1f} {r['peak_mib']:9.0f}"
                          "   (stopped at the cap)")
                elif r["rc"] != 0:
                    print(f"  {r['mode']:<28} failed: {r.get('error')}")
                else:
                    print(f"  {r['mode']:<28} {r['wall_s']:8.2f} {r['cpu_s']:7.2f} {r['peak_mib']:9.0f} "
                          f"{r['parse_s']:8.2f} {r['kernels_s']:10.2f}")
            sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\npython {sys.version.split()[0]}, {os.cpu_count()} cores; JSON: {json.dumps(results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
