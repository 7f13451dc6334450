"""What a V8 heap snapshot costs the target: peak RSS during `memdoctor snapshot` over its used heap.

For each heap size, a real Node process fills its heap with small objects and strings (the shape
of a service's caches), then memdoctor captures it. The target's peak RSS is read from VmHWM in
/proc/PID/status, reset just before the capture (writing 5 to /proc/PID/clear_refs resets the
high-water mark: Linux >= 4.0, needs root or the target's user). Printed per size: used heap,
RSS before, peak RSS, (peak - before) / used heap (the factor `capture.py` budgets), RSS right
after the capture and 3 s later.

    python3 benchmarks/v8_snapshot_cost.py --sizes 50,150,300

The targets start with --inspect-port=0 (SIGUSR1 opens a free port), so that this runs beside other
Node captures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

FILL_JS = r"""
const target = Number(process.argv[1]) * 1024 * 1024;
const keep = [];
while (process.memoryUsage().heapUsed < target) {
  for (let i = 0; i < 10000; i++) keep.push({ id: keep.length, name: 'user-' + keep.length, tags: [i, i + 1] });
}
global.keep = keep;
console.log('ready ' + process.pid);
setInterval(() => {}, 1000);
"""


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))


def measure(node: str, size_mb: int, workdir: str) -> dict:
    proc = subprocess.Popen([node, "--inspect-port=0", f"--max-old-space-size={size_mb * 4 + 512}", "-e", FILL_JS,
                             str(size_mb)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("ready"), line
        time.sleep(1.0)
        with open(f"/proc/{proc.pid}/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        before = status_kb(proc.pid, "VmRSS") << 10
        out = os.path.join(workdir, f"s{size_mb}.heapsnapshot")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "memdoctor", "snapshot", str(proc.pid), "-o", out, "--json",
                               "--force", "--timeout", "600s"], capture_output=True, text=True)
        took = time.monotonic() - started
        assert done.returncode == 0, done.stderr
        peak = status_kb(proc.pid, "VmHWM") << 10
        after = status_kb(proc.pid, "VmRSS") << 10
        time.sleep(3.0)
        later = status_kb(proc.pid, "VmRSS") << 10
        import json

        with open(out + ".meta.json") as fh:
            heap_used = json.load(fh)["heap_used"]
        snap_bytes = os.path.getsize(out)
        os.unlink(out)
        return {"size_mb": size_mb, "heap_used": heap_used, "before": before, "peak": peak, "after": after,
                "later": later, "snapshot": snap_bytes, "seconds": took}
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,150,300", help="used heap sizes to fill, in MiB")
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None:
        sys.exit("node is not installed")
    print(f"node {subprocess.run([node, '--version'], capture_output=True, text=True).stdout.strip()}")
    print(f"{'heap used':>10} {'RSS before':>11} {'peak RSS':>9} {'factor':>7} {'RSS after':>10} {'3 s later':>10} "
          f"{'snapshot':>9} {'time':>6}")
    with tempfile.TemporaryDirectory() as workdir:
        for size in (int(x) for x in args.sizes.split(",")):
            r = measure(node, size, workdir)
            factor = (r["peak"] - r["before"]) / r["heap_used"]
            mib = 1 << 20
            print(f"{r['heap_used'] / mib:8.0f} M {r['before'] / mib:9.0f} M {r['peak'] / mib:7.0f} M {factor:6.2f}x "
                  f"{r['after'] / mib:8.0f} M {r['later'] / mib:8.0f} M {r['snapshot'] / mib:7.0f} M "
                  f"{r['seconds']:5.1f}s", flush=True)


if __name__ == "__main__":
    main()
