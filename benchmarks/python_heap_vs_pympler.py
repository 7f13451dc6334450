"""The pause a heap snapshot causes in a live Python process: memdoctor vs pympler.

One target process holds 1,000,000 live objects and runs a heartbeat thread that wakes every
millisecond; the longest gap between two beats while a tool works is the pause that tool
caused (the target could run no Python code meanwhile). In the same run, on the same process:
- memdoctor: `memdoctor snapshot PID` from outside (gdb injection, agent, detach), in both modes:
  fork (the heap is walked by a forked copy: the default when memory allows) and inline (no room
  to fork, forced here with MEMDOCTOR_HEAP_FORK=0: the agent walks from a thread of the target
  once gdb detached, giving the GIL back between slices);
- pympler: `SummaryTracker()` then `tracker.diff()` inside the target (what pympler users run),
  the pause of diff() alone and of both.
Each is repeated; medians are printed, with the ratio memdoctor / pympler (target <= 1/3), and
the target's RSS before the first snapshot and after the last (what the target keeps).

    python3 benchmarks/python_heap_vs_pympler.py [--objects 1000000] [--repeat 3]
        [--debugger gdb|lldb]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = r'''
import gc, json, os, sys, threading, time
n = int(sys.argv[2]) // 3
data = [{"id": i, "name": "user-%d" % i} for i in range(n)]   # a dict, an int and a str per entry
gc.collect()
gaps = []
def beat():
    last = time.perf_counter()
    while True:
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append((now, now - last))
        if len(gaps) > 200000:
            del gaps[:100000]
        last = now
threading.Thread(target=beat, daemon=True).start()
folder = sys.argv[1]
open(os.path.join(folder, "ready"), "w").write(str(len(gc.get_objects())))
seq = 0
while True:
    cmd_path = os.path.join(folder, "cmd.%d" % seq)
    if not os.path.exists(cmd_path):
        time.sleep(0.01)
        continue
    cmd = json.load(open(cmd_path))
    out = {}
    if cmd["op"] == "pympler":
        from pympler import tracker
        t0 = time.perf_counter()
        tr = tracker.SummaryTracker()
        t1 = time.perf_counter()
        tr.diff()
        t2 = time.perf_counter()
        del tr
        out = {"init_s": t1 - t0, "diff_s": t2 - t1, "t1": t1, "t2": t2, "t0": t0}
    elif cmd["op"] == "gaps":
        window = [g for t, g in list(gaps) if cmd["start"] <= t <= cmd["end"] + 0.5]
        out = {"max_gap_s": max(window) if window else None, "beats": len(window)}
    elif cmd["op"] == "now":
        out = {"now": time.perf_counter()}
    elif cmd["op"] == "gc":
        gc.collect()
    with open(os.path.join(folder, "resp.%d.tmp" % seq), "w") as fh:
        json.dump(out, fh)
    os.replace(os.path.join(folder, "resp.%d.tmp" % seq), os.path.join(folder, "resp.%d" % seq))
    seq += 1
'''


class Target:
    def __init__(self, objects: int, folder: Path) -> None:
        self.folder = folder
        self.seq = 0
        script = folder / "target.py"
        script.write_text(TARGET)
        self.proc = subprocess.Popen([sys.executable, str(script), str(folder), str(objects)])
        deadline = time.monotonic() + 120
        while not (folder / "ready").exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("target did not start")
            time.sleep(0.05)
        time.sleep(0.5)

    def ask(self, **cmd) -> dict:
        path = self.folder / f"cmd.{self.seq}"
        (self.folder / f"cmd.{self.seq}.tmp").write_text(json.dumps(cmd))
        os.replace(self.folder / f"cmd.{self.seq}.tmp", path)
        resp = self.folder / f"resp.{self.seq}"
        while not resp.exists():
            time.sleep(0.005)
        self.seq += 1
        return json.loads(resp.read_text())

    def rss(self) -> int:
        with open(f"/proc/{self.proc.pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def objects(self) -> int:
        return int((self.folder / "ready").read_text())


def live_objects(folder: Path) -> int:
    return int((folder / "ready").read_text())


def memdoctor_pause(target: Target, out: Path, env: dict[str, str]) -> dict:
    start = target.ask(op="now")["now"]
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "memdoctor", "snapshot", str(target.proc.pid), "-o", str(out),
                           "--json"], capture_output=True, text=True, env={**os.environ, **env})
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"memdoctor snapshot failed: {proc.stderr}")
    wait_for_idle_walk(target)
    end = target.ask(op="now")["now"]
    gaps = target.ask(op="gaps", start=start, end=end)
    meta = json.loads(proc.stdout)
    return {"pause_s": gaps["max_gap_s"], "wall_s": wall, "agent_s": meta.get("pause_s"),
            "stopped_s": meta.get("stopped_s"), "walk_s": meta.get("walk_s"), "objects": meta.get("objects"),
            "mode": meta.get("mode"), "method": meta.get("method")}


def wait_for_idle_walk(target: Target) -> None:
    """The snapshot is written when `memdoctor snapshot` returns; give the agent's thread a moment to free
    its lists (that is part of what the target feels, so it must fall inside the measured window)."""
    time.sleep(0.3)


def pympler_pause(target: Target) -> dict:
    res = target.ask(op="pympler")
    diff_gap = target.ask(op="gaps", start=res["t1"], end=res["t2"])["max_gap_s"]
    both_gap = target.ask(op="gaps", start=res["t0"], end=res["t2"])["max_gap_s"]
    return {"pause_s": diff_gap, "diff_s": res["diff_s"], "init_s": res["init_s"], "init_and_diff_pause_s": both_gap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--debugger", choices=("gdb", "lldb"), default="gdb")
    args = parser.parse_args()
    modes = {"fork": {"MEMDOCTOR_DEBUGGER": args.debugger},
             "inline": {"MEMDOCTOR_DEBUGGER": args.debugger, "MEMDOCTOR_HEAP_FORK": "0"}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        target = Target(args.objects, folder)
        try:
            rss_start = target.rss()
            runs: dict[str, list[dict]] = {mode: [] for mode in modes}
            for i in range(args.repeat):
                for mode, env in modes.items():
                    runs[mode].append(memdoctor_pause(target, folder / f"{mode}{i}.snap", env))
                    time.sleep(0.5)
            time.sleep(1.0)
            rss_after_md = target.rss()
            pm = []
            for _ in range(args.repeat):
                pm.append(pympler_pause(target))
                time.sleep(0.5)
            rss_after_pm = target.rss()
        finally:
            target.proc.kill()
            target.proc.wait()
    pmed = {key: statistics.median(r[key] for r in pm) for key in ("pause_s", "diff_s", "init_s",
                                                                   "init_and_diff_pause_s")}
    mib = 1 << 20
    first = runs["fork"][0]
    print(f"Machine: nproc {os.cpu_count()}, {platform.platform()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"Target: {first['objects']:,} live objects seen by memdoctor ({args.objects:,} requested), "
          f"RSS {rss_start / mib:.1f} MiB; {args.repeat} repeats, medians; debugger {args.debugger}\n")
    print(f"{'pympler SummaryTracker().diff()':<36} diff() holds its thread {pmed['diff_s'] * 1000:.0f} ms; "
          f"max heartbeat gap {pmed['pause_s'] * 1000:.0f} ms; SummaryTracker() {pmed['init_s'] * 1000:.0f} ms")
    for mode, md in runs.items():
        med = {key: statistics.median(r[key] for r in md) for key in ("pause_s", "wall_s", "agent_s", "stopped_s",
                                                                       "walk_s")}
        modes_seen = sorted({r["mode"] for r in md})
        held = med["stopped_s"] + (med["agent_s"] if mode == "inline" else 0.0)
        agent = "fork" if mode == "fork" else "longest slice of the agent's walk"
        print(f"\nmemdoctor snapshot PID ({mode}; agent modes seen: {', '.join(modes_seen)})")
        print(f"  held by {args.debugger} {med['stopped_s'] * 1000:.0f} ms ({agent} {med['agent_s'] * 1000:.0f} ms); "
              f"max heartbeat gap {med['pause_s'] * 1000:.0f} ms; walk {med['walk_s'] * 1000:.0f} ms "
              f"({'in the forked copy' if mode == 'fork' else 'in a thread of the target, in slices'}); "
              f"wall {med['wall_s']:.2f} s")
        # pympler runs in the calling thread: that thread (the request, the worker) is held for the whole
        # diff() while other threads still get the GIL.
        print(f"  ratio pause (held{' + longest slice' if mode == 'inline' else ''}) / pympler diff() duration: "
              f"{held / pmed['diff_s']:.3f} (target <= 0.333)")
        print(f"  ratio max heartbeat gap / pympler diff() duration: {med['pause_s'] / pmed['diff_s']:.3f}")
        print(f"  ratio of max heartbeat gaps (other threads' view): {med['pause_s'] / pmed['pause_s']:.3f}")
        print("  every run (max heartbeat gap ms): " + " ".join(f"{r['pause_s'] * 1000:.0f}" for r in md))
    print(f"\ntarget RSS: before {rss_start / mib:.1f} MiB, after {args.repeat} x {len(runs)} memdoctor snapshots "
          f"{rss_after_md / mib:.1f} MiB ({(rss_after_md - rss_start) / mib:+.1f} MiB), after pympler "
          f"{rss_after_pm / mib:.1f} MiB ({(rss_after_pm - rss_after_md) / mib:+.1f} MiB)")
    print("pympler diff() every run (max heartbeat gap ms): " + " ".join(f"{r['pause_s'] * 1000:.0f}" for r in pm))


if __name__ == "__main__":
    main()
