"""The floor under any Python sampler at 10 ms on this machine: CPU per tick of a loop that only
sleeps to the next tick of a start + k * interval grid, and of the same loop with one pread of
/proc/self/statm per tick (what memdoctor's recorder does at the least). docs/benchmarks.md
compares it with `memdoctor watch` and psrecord (benchmarks/watcher_cost.py).

    python3 benchmarks/bare_tick_cost.py              # 2 rounds of 1000 ticks each way, ~40 s
"""

from __future__ import annotations

import argparse
import os
import resource
import time


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_tick_us(ticks: int, interval: float, read_fd: int | None) -> float:
    start = time.monotonic()
    before = _cpu()
    for k in range(1, ticks + 1):
        if read_fd is not None:
            os.pread(read_fd, 128, 0)
        delay = start + k * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return (_cpu() - before) / ticks * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    fd = os.open(f"/proc/{os.getpid()}/statm", os.O_RDONLY)
    for _ in range(args.rounds):
        sleep_only = per_tick_us(args.ticks, args.interval, None)
        with_read = per_tick_us(args.ticks, args.interval, fd)
        print(f"sleep only: {sleep_only:.0f} us/tick; sleep + pread of statm: {with_read:.0f} us/tick; "
              f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
