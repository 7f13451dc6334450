"""V8 heap diff: memdoctor vs memlab on the same three snapshots, in one run.

What it does:
1. installs memlab from npm into a temporary prefix (PUPPETEER_SKIP_DOWNLOAD=1: its puppeteer
   dependency would otherwise try to download a browser);
2. starts examples/node_heap/map_leak.js (a module-level Map that is never pruned) with
   `--heapsnapshot-signal=SIGUSR2`, grows its heap to about 5, 150 and 300 MB and writes a
   snapshot at each size (signal snapshots keep V8's object ids stable, which both tools'
   allocated-between-snapshots method needs);
3. times `memdoctor snapshot PID` on the 300 MB heap (wall time, and the target's peak RSS
   during the capture, sampled every 20 ms);
4. runs `memdoctor diff A B C --json` cold (an empty numba cache: compilation included) and
   `memlab find-leaks --baseline A --target B --final C`, one after the other, measuring wall
   time and the peak of the RSS summed over each tool's whole process tree (sampled every 20 ms);
5. prints both, the ratios, memdoctor's top rows and what memlab reports.

Run by hand: `python3 benchmarks/v8_diff_vs_memlab.py` (add `--sizes 5,50,100` for a quicker run,
`--repeat 3` for three memdoctor/memlab pairs on the same snapshots, each with its own ratios). No
assertion on times: the numbers go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "node_heap" / "map_leak.js"



def signal_snapshot(target: subprocess.Popen, work: Path, path: Path) -> None:
    """Have a node started with --heapsnapshot-signal=SIGUSR2 (in `work`, driven by the harness's
    stdin lines) write a snapshot, and move it to `path`."""
    assert target.stdin is not None and target.stdout is not None
    before = set(work.glob("Heap*.heapsnapshot"))
    os.kill(target.pid, signal.SIGUSR2)
    while not set(work.glob("Heap*.heapsnapshot")) - before:
        time.sleep(0.05)
    target.stdin.write("tick 0\n")  # answered once the (synchronous) snapshot is written
    target.stdin.flush()
    target.stdout.readline()
    (set(work.glob("Heap*.heapsnapshot")) - before).pop().rename(path)

def tree(pid: int) -> list[int]:
    out, i = [pid], 0
    while i < len(out):
        p = out[i]
        i += 1
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                try:
                    with open(f"/proc/{p}/task/{task}/children") as fh:
                        out += [int(c) for c in fh.read().split()]
                except OSError:
                    pass
        except OSError:
            pass
    return out


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def measure(argv: list[str], env: dict[str, str] | None = None, watch_pid: int | None = None,
            cwd: str | None = None) -> dict:
    """Run argv; wall time and peak RSS summed over its process tree (or of watch_pid)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    peak = 0
    while proc.poll() is None:
        pids = [watch_pid] if watch_pid else tree(proc.pid)
        peak = max(peak, sum(rss(p) for p in pids))
        time.sleep(0.02)
    stdout, stderr = proc.communicate()
    return {"wall_s": time.monotonic() - start, "peak_rss": peak, "rc": proc.returncode, "stdout": stdout,
            "stderr": stderr}


def install_memlab(prefix: str) -> str:
    env = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1", "PUPPETEER_SKIP_CHROMIUM_DOWNLOAD": "1"}
    # npm 11 wants the prefix to exist with a package.json (and one not named "memlab" itself).
    os.makedirs(prefix, exist_ok=True)
    with open(os.path.join(prefix, "package.json"), "w") as fh:
        json.dump({"name": "memlab-bench", "private": True}, fh)
    subprocess.run(["npm", "install", "--prefix", prefix, "memlab", "--no-audit", "--no-fund", "--loglevel=error"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return os.path.join(prefix, "node_modules", ".bin", "memlab")


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,150,300", help="heap sizes in MB of the three snapshots")
    parser.add_argument("--repeat", type=int, default=1,
                        help="how many times to run the pair (memdoctor cold, then memlab) on the same snapshots; "
                             "each pair gives its own ratios")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="md-v8bench-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"work dir {work}; node {node_version}")
    t = time.monotonic()
    memlab = install_memlab(str(work / "memlab-npm"))
    said = subprocess.run([memlab, "version"], capture_output=True, text=True, cwd=work)
    version = [w for w in (said.stdout + said.stderr).split() if w.startswith("@memlab/cli@")]
    print(f"memlab installed from npm in {time.monotonic() - t:.0f} s ({' '.join(version)})")

    target = subprocess.Popen(["node", "--heapsnapshot-signal=SIGUSR2", str(EXAMPLE), "--manual"], cwd=work,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert target.stdout.readline().startswith("ready")
    snaps: list[Path] = []
    capture = None
    try:
        for i, mb in enumerate(sizes):
            target.stdin.write(f"grow-to {mb}\n")
            target.stdin.flush()
            heap = int(target.stdout.readline().split()[2])
            path = work / f"snap{i}.heapsnapshot"
            signal_snapshot(target, work, path)
            snaps.append(path)
            print(f"snapshot {i}: heap used {mib(heap)}, file {mib(path.stat().st_size)}")
    finally:
        target.kill()
        target.wait()
    # Capture by PID of a fresh target (one that never wrote a snapshot) grown to the largest size.
    target = subprocess.Popen(["node", str(EXAMPLE), "--manual"], cwd=work, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert target.stdout.readline().startswith("ready")
        target.stdin.write(f"grow-to {sizes[-1]}\n")
        target.stdin.flush()
        target.stdout.readline()
        out = work / "capture.heapsnapshot"
        rss_before = rss(target.pid)
        capture = measure([sys.executable, "-m", "memdoctor", "snapshot", str(target.pid), "-o", str(out), "--json",
                           "--timeout", "300s"], env=env, watch_pid=target.pid)
        capture["target_rss_before"] = rss_before
        capture["size"] = out.stat().st_size if out.exists() else 0
    finally:
        target.kill()
        target.wait()

    pairs = []
    for run in range(1, max(args.repeat, 1) + 1):
        cache = tempfile.mkdtemp(prefix="md-numba-cold-")
        load_before = os.getloadavg()[0]
        md = measure([sys.executable, "-m", "memdoctor", "diff", *map(str, snaps), "--json", "--top", "5"],
                     env={**env, "NUMBA_CACHE_DIR": cache})
        ml = measure([memlab, "find-leaks", "--baseline", str(snaps[0]), "--target", str(snaps[1]), "--final",
                      str(snaps[2]), "--work-dir", str(work / f"memlab-work-{run}")], cwd=str(work))
        shutil.rmtree(cache, ignore_errors=True)
        pairs.append((md, ml))
        print()
        print(f"pair {run}:")
        print(f"{'tool':<10} {'wall s':>8} {'peak RSS (tree)':>16} {'rc':>3}")
        print(f"{'memdoctor':<10} {md['wall_s']:8.1f} {mib(md['peak_rss']):>16} {md['rc']:>3}")
        print(f"{'memlab':<10} {ml['wall_s']:8.1f} {mib(ml['peak_rss']):>16} {ml['rc']:>3}")
        print(f"load average (1 min) before memdoctor's run {load_before:.1f}, after memlab's "
              f"{os.getloadavg()[0]:.1f} (2 cores; other jobs share them)")
        print(f"ratios memdoctor/memlab: wall {md['wall_s'] / ml['wall_s']:.2f} (target <= 0.25), "
              f"peak RSS {md['peak_rss'] / max(ml['peak_rss'], 1):.2f} (target <= 0.50)", flush=True)
    md, ml = pairs[0]
    print()
    rows = json.loads(md["stdout"])["rows"] if md["rc"] == 0 else []
    print("memdoctor top rows:")
    for row in rows[:3]:
        print(f"  {row['key']:<34} {row['bytes_growth'] / 2**20:8.1f} MiB  entries {row['count_before']} -> "
              f"{row['count_after']}  where: {row['where']}")
    top_ok = bool(rows) and rows[0]["key"] == "ongoingDialogues (Map)" and all(m["rc"] == 0 for m, _ in pairs)
    print(f"top row names the leaking Map: {top_ok}")
    print("memlab reports:")
    for line in (ml["stdout"] + ml["stderr"]).replace("\x1b[K", "").splitlines():
        if any(k in line for k in ("leak", "Leak", "│", "┌", "└", "MemLab")):
            print("  " + line.strip())
    if capture:
        print()
        meta = json.loads(capture["stdout"]) if capture["rc"] == 0 else {}
        print(f"capture by PID of a {mib(meta.get('heap_used', 0))} heap: wall {capture['wall_s']:.1f} s, "
              f"snapshot {mib(capture['size'])}, target RSS {mib(capture['target_rss_before'])} before, "
              f"peak {mib(capture['peak_rss'])} during "
              f"(x{capture['peak_rss'] / max(capture['target_rss_before'], 1):.2f}), rc {capture['rc']} "
              f"{capture['stderr'].strip()[:200]}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if top_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
