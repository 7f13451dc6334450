"""A parent that forks worker children (and one grandchild), each holding some memory.

Used to check that memdoctor sums the whole process tree, as for gunicorn or npm start.
Usage: python3 forking_parent.py [--children 2] [--mb 30] [--seconds 30]
"""

import argparse
import os
import signal
import sys
import time


def hold(mb: int, seconds: float) -> None:
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1  # touch every page so it is resident
    time.sleep(seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--mb", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    pids = []
    for n in range(args.children):
        pid = os.fork()
        if pid == 0:
            if n == 0 and os.fork() == 0:
                hold(args.mb, args.seconds)  # a grandchild
                os._exit(0)
            hold(args.mb, args.seconds)
            os._exit(0)
        pids.append(pid)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    hold(5, args.seconds)
    for pid in pids:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
