"""What the watcher costs: `memdoctor watch` against psrecord at 10 ms, side by side, alone and under a CPU hog.

For each repeat the script starts one target (a Python process holding 50 MiB, touched) and runs
memdoctor and psrecord on it AT THE SAME TIME (same target, same machine load), first for the
short run (10 s) and then for the long run (30 s), each tool reaped with os.wait4 for its own
CPU (user + sys, start-up and exit included) and its peak RSS (ru_maxrss). Then the same with a
CPU hog on every core (one busy-looping process per core, at the same priority).

Reported, medians over the repeats:
- the 10 s run: peak RSS, total CPU, samples delivered, and samples on time: the share of the
  requested ticks (duration / interval) that got a sample within half an interval of its place
  on the grid start + k * interval (times as each tool writes them);
- the marginal CPU per sample: (CPU_long - CPU_short) / (samples_long - samples_short) (start-up
  cancels out), and its ratio memdoctor / psrecord.

Targets (issue 18): watch at 10 ms for 10 s <= 64 MiB peak RSS, <= 1.0 s CPU, >= 99 % on time;
marginal CPU per sample <= 0.25 x psrecord's, alone and with the hog.

    python3 benchmarks/watcher_cost.py                  # 3 repeats, ~5 minutes (half of it under the hog)
    python3 benchmarks/watcher_cost.py --repeats 1 --short 3 --long 8   # a quick look

memdoctor runs from this checkout with its bytecode compiled first (as `pip install` does);
psrecord must be installed (`python3 -m pip install psrecord`: for this benchmark only).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
TARGET_CODE = ("import sys, time\nx = bytearray(50 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\n"
               "open(sys.argv[1], 'w').close()\ntime.sleep(3600)\n")
HOG_CODE = "while True: pass\n"
# Targets from issue 18.
MAX_PEAK_MIB = 64
MAX_CPU_S = 1.0
MIN_ON_TIME = 0.99
MAX_MARGINAL_RATIO = 0.25


@dataclass
class Run:
    tool: str
    duration: float
    cpu_s: float
    peak_rss: int
    samples: int
    on_time: float
    rc: int


def env_for_memdoctor() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def memdoctor_times(path: Path) -> list[float]:
    times = []
    with open(path, "rb") as fh:
        next(fh, None)  # the header
        for line in fh:
            try:
                times.append(float(json.loads(line)["t"]))
            except (ValueError, KeyError):
                pass
    return times


def psrecord_times(path: Path) -> list[float]:
    times = []
    with open(path) as fh:
        for line in fh:
            if line.lstrip().startswith("#"):
                continue
            parts = line.split()
            try:
                times.append(float(parts[0]))
            except (ValueError, IndexError):
                pass
    return times


def on_time_share(times: list[float], interval: float, duration: float) -> float:
    """Share of the requested ticks that have a sample within interval/2 of start + k * interval."""
    requested = round(duration / interval)
    ticks = {round(t / interval) for t in times if abs(t / interval - round(t / interval)) < 0.5}
    return len({k for k in ticks if 0 <= k < requested}) / requested


def start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            env=env)


def reap(proc: subprocess.Popen) -> tuple[int, float, int]:
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def pair(pid: int, interval: float, duration: float, workdir: Path, psrecord: str) -> list[Run]:
    """memdoctor and psrecord on the same target, started together."""
    md_out = workdir / f"md-{duration}.jsonl"
    ps_out = workdir / f"ps-{duration}.txt"
    for path in (md_out, ps_out):
        path.unlink(missing_ok=True)
    md = start([sys.executable, "-m", "memdoctor", "watch", str(pid), "--interval", f"{interval * 1000:g}ms",
                "--duration", f"{duration:g}s", "-o", str(md_out)], env_for_memdoctor())
    ps = start([psrecord, str(pid), "--interval", str(interval), "--duration", str(duration), "--log", str(ps_out)])
    runs = []
    for tool, proc, out, read in (("memdoctor", md, md_out, memdoctor_times), ("psrecord", ps, ps_out, psrecord_times)):
        rc, cpu, peak = reap(proc)
        times = read(out) if out.exists() else []
        runs.append(Run(tool, duration, cpu, peak, len(times), on_time_share(times, interval, duration), rc))
    return runs


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def phase(name: str, pid: int, args, workdir: Path, psrecord: str) -> dict:
    runs: list[Run] = []
    loads = [loadavg()]
    for _ in range(args.repeats):
        runs += pair(pid, args.interval, args.short, workdir, psrecord)
        runs += pair(pid, args.interval, args.long, workdir, psrecord)
        loads.append(loadavg())
    out: dict = {"phase": name, "load_before_after_each_repeat": loads, "runs": [r.__dict__ for r in runs]}
    for tool in ("memdoctor", "psrecord"):
        short = [r for r in runs if r.tool == tool and r.duration == args.short]
        long = [r for r in runs if r.tool == tool and r.duration == args.long]
        marginal = [(lg.cpu_s - sh.cpu_s) / max(1, lg.samples - sh.samples) for sh, lg in zip(short, long, strict=True)]
        out[tool] = {
            "short_cpu_s": statistics.median(r.cpu_s for r in short),
            "short_peak_mib": statistics.median(r.peak_rss for r in short) / MIB,
            "short_samples": statistics.median(r.samples for r in short),
            "short_on_time": statistics.median(r.on_time for r in short),
            "marginal_us": statistics.median(marginal) * 1e6,
            "marginal_us_each": [round(m * 1e6, 1) for m in marginal],
        }
    ratios = [m / p if p > 0 else float("nan")
              for m, p in zip(out["memdoctor"]["marginal_us_each"], out["psrecord"]["marginal_us_each"], strict=True)]
    out["marginal_ratio_each"] = [round(r, 3) for r in ratios]
    out["marginal_ratio"] = statistics.median(ratios)
    return out


def print_phase(res: dict, args) -> list[str]:
    print(f"\n== {res['phase']}: load average (1/5/15 min) before and after each repeat: "
          f"{' | '.join(res['load_before_after_each_repeat'])}")
    print(f"{'tool':<10} {'peak RSS':>9} {'CPU 10s':>8} {'samples':>8} {'on time':>8} {'marginal/sample':>16}")
    for tool in ("memdoctor", "psrecord"):
        r = res[tool]
        print(f"{tool:<10} {r['short_peak_mib']:7.1f}Mi {r['short_cpu_s']:7.2f}s {r['short_samples']:8.0f} "
              f"{100 * r['short_on_time']:7.1f}% {r['marginal_us']:12.1f} us   (each: {r['marginal_us_each']})")
    print(f"marginal CPU per sample, memdoctor / psrecord: {res['marginal_ratio']:.3f} "
          f"(each repeat: {res['marginal_ratio_each']})")
    md = res["memdoctor"]
    misses = []
    if res["phase"] == "alone":
        if md["short_peak_mib"] > MAX_PEAK_MIB:
            misses.append(f"peak RSS {md['short_peak_mib']:.1f} MiB > {MAX_PEAK_MIB}")
        if md["short_cpu_s"] > MAX_CPU_S:
            misses.append(f"CPU {md['short_cpu_s']:.2f} s > {MAX_CPU_S}")
        if md["short_on_time"] < MIN_ON_TIME:
            misses.append(f"on time {100 * md['short_on_time']:.1f} % < {100 * MIN_ON_TIME:.0f}")
    if res["marginal_ratio"] > MAX_MARGINAL_RATIO:
        misses.append(f"marginal ratio {res['marginal_ratio']:.3f} > {MAX_MARGINAL_RATIO}")
    print("targets:", "PASS" if not misses else "MISS: " + "; ".join(misses))
    return misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--short", type=float, default=10.0)
    parser.add_argument("--long", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-hog", action="store_true", help="skip the phase with a CPU hog on every core")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    psrecord = shutil.which("psrecord")
    if psrecord is None:
        print("psrecord is not installed: python3 -m pip install psrecord", file=sys.stderr)
        return 2
    compileall.compile_dir(str(REPO / "memdoctor"), quiet=1)
    results = []
    with tempfile.TemporaryDirectory(prefix="memdoctor-watcher-cost-") as tmp:
        workdir = Path(tmp)
        ready = workdir / "ready"
        target = subprocess.Popen([sys.executable, "-c", TARGET_CODE, str(ready)])
        hogs: list[subprocess.Popen] = []
        try:
            while not ready.exists():
                time.sleep(0.05)
            results.append(phase("alone", target.pid, args, workdir, psrecord))
            if not args.no_hog:
                hogs = [subprocess.Popen([sys.executable, "-c", HOG_CODE]) for _ in range(os.cpu_count() or 1)]
                results.append(phase(f"with a CPU hog on each of {len(hogs)} cores", target.pid, args, workdir,
                                     psrecord))
        finally:
            for proc in [*hogs, target]:
                proc.kill()
                proc.wait()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, interval {args.interval * 1000:g} ms, "
          f"runs of {args.short:g} s and {args.long:g} s, {args.repeats} repeats, medians")
    for res in results:
        print_phase(res, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
