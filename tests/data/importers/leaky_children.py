"""A parent with two forked workers: worker 0 keeps every job's buffer (a leak), worker 1 frees them.

Recorded with `mprof run --multiprocess` to get one CHLD series per worker.
Usage: python3 leaky_children.py [--seconds 8]
"""

import argparse
import os
import time


def worker(leaks: bool, seconds: float) -> None:
    kept = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        job = bytearray(200 * 1024)
        job[::4096] = b"\x01" * len(job[::4096])  # touch every page: resident
        if leaks:
            kept.append(job)
        time.sleep(0.05)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    pids = []
    for leaks in (True, False):
        pid = os.fork()
        if pid == 0:
            worker(leaks, args.seconds)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
