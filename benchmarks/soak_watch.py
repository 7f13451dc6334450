"""Soak test: memdoctor watching for an hour at 10 ms must not leak itself.

A target process is watched by memdoctor ("the watcher") at 10 ms for --duration (default 1h).
A second memdoctor records the watcher's own memory every second, and its trace is analysed
with memdoctor's classifier: no leak in the leak detector. The watcher's CPU share and its
RSS at the start and end are reported too. Run by hand (not in the test suite):

    python3 benchmarks/soak_watch.py                    # one hour
    python3 benchmarks/soak_watch.py --duration 5m      # a shorter look
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

TARGET = "import time\nx = bytearray(20 << 20)\nwhile True:\n    time.sleep(1)\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", default="1h")
    parser.add_argument("--interval", default="10ms")
    parser.add_argument("--memdoctor", default=os.environ.get("MEMDOCTOR_CMD", f"{sys.executable} -m memdoctor"))
    parser.add_argument("--keep", default=None, help="directory to keep the traces in")
    args = parser.parse_args()
    md = shlex.split(args.memdoctor)
    out_dir = args.keep or tempfile.mkdtemp(prefix="memdoctor-soak-")
    os.makedirs(out_dir, exist_ok=True)
    target = subprocess.Popen([sys.executable, "-c", TARGET])
    watcher = subprocess.Popen([*md, "watch", str(target.pid), "--interval", args.interval, "--duration",
                                args.duration, "-o", os.path.join(out_dir, "target.jsonl"), "--json"],
                               stdout=subprocess.PIPE, text=True)
    time.sleep(2)  # let the watcher import and start before recording it
    self_trace = os.path.join(out_dir, "watcher.jsonl")
    observer = subprocess.Popen([*md, "watch", str(watcher.pid), "--interval", "1s", "-o", self_trace, "--json"],
                                stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    stdout, _ = watcher.communicate()
    observer.wait(timeout=60)
    target.kill()
    target.wait()
    outcome = json.loads(stdout)
    verdict = json.loads(subprocess.run([*md, "analyze", self_trace, "--json"], capture_output=True, text=True,
                                        check=True).stdout)
    with open(self_trace) as fh:
        rows = [json.loads(line) for line in fh][1:]
    rss = [r["rss"] for r in rows if "rss" in r]
    print(f"soak: watched for {time.monotonic() - started:.0f} s at {args.interval}: {outcome['samples']} samples, "
          f"end: {outcome['end_reason']}")
    print(f"watcher CPU: {outcome['own_cpu_s']:.1f} s = {100 * outcome['own_cpu_share']:.2f}% of one core")
    print(f"watcher RSS: first {rss[0] / 2**20:.1f} MiB, last {rss[-1] / 2**20:.1f} MiB, "
          f"max {max(rss) / 2**20:.1f} MiB over {len(rss)} samples")
    print(f"memdoctor's verdict on the watcher itself: {verdict['verdict']} ({verdict['pattern']}), floor "
          f"{verdict['growth_bytes_per_s'] * 3600 / 2**20:.2f} MiB/h; evidence: {'; '.join(verdict['evidence'])}")
    print(f"traces kept in {out_dir}")
    print("RESULT:", "PASS (no leak in the leak detector)" if verdict["verdict"] != "leak" else "MISS (leak)")


if __name__ == "__main__":
    main()
