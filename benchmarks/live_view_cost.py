"""The live view's cost against the sampling it watches: CPU of the monitor thread / CPU of the sampler.

One recording in this process: `record()` samples a real target (a Python process holding 50 MiB)
at 10 ms on the main thread while a LiveMonitor (memdoctor/pipelines/live.py) redraws its rich panel
on a terminal console (a TTY-like console writing to /dev/null: the full rendering cost, nothing
on screen). Each thread's own CPU time (time.thread_time, CLOCK_THREAD_CPUTIME_ID) is read
when it ends; the monitor's is split into the redraws and the online analysis (the one diagnosis
every couple of seconds, memdoctor/analysis, which the alert rules need whatever is drawn).

Target (issue 18): the refresh costs no more than 10 % of the sampling CPU.

    python3 benchmarks/live_view_cost.py                 # 3 recordings of 20 s, medians
    python3 benchmarks/live_view_cost.py --duration 5 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402

from memdoctor.pipelines.live import LiveMonitor  # noqa: E402
from memdoctor.sampling.backend import open_process_tree  # noqa: E402
from memdoctor.sampling.recorder import RecordingState, record  # noqa: E402
from memdoctor.sampling.sources import ProcessTreeSource  # noqa: E402
from memdoctor.traces.writer import JsonlTraceWriter  # noqa: E402

TARGET_CODE = ("import sys, time\nx = bytearray(50 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\n"
               "open(sys.argv[1], 'w').close()\ntime.sleep(3600)\n")
MAX_SHARE = 0.10  # issue 18


class MeasuredMonitor(LiveMonitor):
    """A LiveMonitor that keeps its own thread's CPU time, and the share of it spent analysing."""

    thread_cpu = 0.0
    analysis_cpu = 0.0

    def _analyze(self) -> None:
        started = time.thread_time()
        try:
            super()._analyze()
        finally:
            self.analysis_cpu += time.thread_time() - started

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.thread_cpu = time.thread_time()


def one_recording(pid: int, duration: float, interval: float, out: Path) -> dict:
    state = RecordingState()
    with open(os.devnull, "w") as sink:
        console = Console(file=sink, force_terminal=True, width=120, height=40)
        monitor = MeasuredMonitor(state, mode="tty", console=console, title=f"PID {pid}", duration=duration,
                                  limit_bytes=1 << 30)
        source = ProcessTreeSource(open_process_tree(pid))
        writer = JsonlTraceWriter(str(out))
        writer.write_header({"pid": pid, "interval_s": interval})
        monitor.start()
        started = time.thread_time()
        try:
            result = record(source, writer, interval=interval, duration=duration, detail_every=1.0, state=state)
        finally:
            sampler_cpu = time.thread_time() - started
            monitor.finish()
            source.close()
            writer.close()
    refresh = monitor.thread_cpu - monitor.analysis_cpu
    return {"samples": result.samples, "sampler_cpu": sampler_cpu, "monitor_cpu": monitor.thread_cpu,
            "analysis_cpu": monitor.analysis_cpu, "refresh_cpu": refresh, "threads": threading.active_count()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memdoctor-live-cost-") as tmp:
        ready = Path(tmp) / "ready"
        target = subprocess.Popen([sys.executable, "-c", TARGET_CODE, str(ready)])
        try:
            while not ready.exists():
                time.sleep(0.05)
            runs = [one_recording(target.pid, args.duration, args.interval, Path(tmp) / "t.jsonl")
                    for _ in range(args.repeats)]
        finally:
            target.kill()
            target.wait()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average after {load}; "
          f"{args.repeats} recordings of {args.duration:g} s at {args.interval * 1000:g} ms, TTY live view")
    print(f"{'samples':>8} {'sampler CPU':>12} {'refresh CPU':>12} {'analysis CPU':>13} {'refresh/sampler':>16} "
          f"{'monitor/sampler':>16}")
    for r in runs:
        print(f"{r['samples']:8d} {r['sampler_cpu']:11.3f}s {r['refresh_cpu']:11.3f}s {r['analysis_cpu']:12.3f}s "
              f"{r['refresh_cpu'] / r['sampler_cpu']:16.3f} {r['monitor_cpu'] / r['sampler_cpu']:16.3f}")
    share = statistics.median(r["refresh_cpu"] / r["sampler_cpu"] for r in runs)
    total = statistics.median(r["monitor_cpu"] / r["sampler_cpu"] for r in runs)
    print(f"median: the refresh costs {100 * share:.1f} % of the sampling CPU (target <= {100 * MAX_SHARE:.0f} %: "
          f"{'PASS' if share <= MAX_SHARE else 'MISS'}); with the online analysis {100 * total:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
