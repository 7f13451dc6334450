"""Record one real-world example under load with memdoctor (and optionally psrecord and mprof too).

    python3 examples/realworld/record.py -o out.jsonl --duration 240 \
        --load '--path /item/{i} --rate 40' -- python3 examples/realworld/flask_cache/app.py --cache dict

Picks a free port on 127.0.0.1, starts `python3 -m memdoctor run --interval 100ms --duration D
-o OUT -- CMD` with PORT=<port> in the command's environment, waits until the port answers, then
runs load.py with the given load options until the recording ends. With --psrecord / --mprof,
those recorders attach to the same process (and its children) at the same time, so one program
run is written by each recorder.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STARTUP_S = 30.0  # the longest a service here takes to listen (a cold npm require tree on a busy machine)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def target_pid(recorder: psutil.Process, deadline: float) -> int | None:
    """The command memdoctor run launched: its first child."""
    while time.monotonic() < deadline:
        kids = recorder.children()
        if kids:
            return kids[0].pid
        time.sleep(0.05)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        print("record.py: give the command after --", file=sys.stderr)
        return 2
    cut = argv.index("--")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--duration", type=float, required=True, help="seconds of recording")
    ap.add_argument("--interval", default="100ms")
    ap.add_argument("--load", default="", help="options for load.py (quoted)")
    ap.add_argument("--psrecord", help="also write a psrecord --log file here")
    ap.add_argument("--mprof", help="also write an mprof .dat file here")
    args = ap.parse_args(argv[:cut])
    cmd = argv[cut + 1:]
    port = free_port()
    env = dict(os.environ, PORT=str(port), PYTHONPATH=str(ROOT))
    rec = subprocess.Popen(
        [sys.executable, "-m", "memdoctor", "run", "--interval", args.interval, "--duration", f"{args.duration:g}s",
         "-o", args.output, "--", *cmd],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    helpers: list[subprocess.Popen] = []
    load = None
    try:
        t_start = time.monotonic()
        if not wait_listening(port, t_start + STARTUP_S):
            print(f"record.py: nothing listens on port {port} after {STARTUP_S:.0f} s", file=sys.stderr)
            return 1
        remaining = args.duration - (time.monotonic() - t_start)
        if args.psrecord or args.mprof:
            pid = target_pid(psutil.Process(rec.pid), time.monotonic() + 5)
            if pid is None:
                print("record.py: memdoctor run has no child to attach to", file=sys.stderr)
                return 1
            if args.psrecord:
                helpers.append(subprocess.Popen(
                    ["psrecord", str(pid), "--log", args.psrecord, "--interval", "0.1", "--include-children",
                     "--duration", f"{remaining:.0f}"], stdout=subprocess.DEVNULL))
            if args.mprof:
                helpers.append(subprocess.Popen(
                    ["mprof", "run", "--attach", "-C", "-T", "0.1", "-t", f"{remaining:.0f}", "-o", args.mprof,
                     str(pid)], stdout=subprocess.DEVNULL))
        # The load runs until the recording ends (a few seconds past it): traffic that stops early
        # leaves a quiet tail that is not what the program does under load.
        load = subprocess.Popen([sys.executable, str(HERE / "load.py"), "--port", str(port),
                                 "--duration", f"{remaining + 3:.0f}", *shlex.split(args.load)])
        out, _ = rec.communicate(timeout=args.duration + 120)
        print(out[-2000:])
        took = time.monotonic() - t_start
        if rec.returncode != 0 or took < args.duration - 5:
            # memdoctor stopped early (its own error, or the program died): the file is not a
            # recording of the requested length, so say so instead of leaving it to look complete
            print(f"record.py: memdoctor run ended after {took:.0f} s with exit {rec.returncode}", file=sys.stderr)
            return 1
        for h in helpers:
            h.wait(timeout=60)
        load.wait(timeout=60)
        return 0
    finally:
        for p in (rec, load, *helpers):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    sys.exit(main())
