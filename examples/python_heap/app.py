"""Leaking programs for `memdoctor snapshot` / `memdoctor diff` (see README.md here).

    python3 examples/python_heap/app.py dict|lru|list|listeners [--rate 200] [--secret TEXT]
                                         [--ready FILE] [--seconds N]

Each kind grows one named container (the leak) and a decoy that grows faster in entries but
little in bytes. --ready FILE is written once the program runs (with its PID).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import batches
import billing
import events
import geo

KINDS = {"dict": billing.handle_request, "lru": geo.handle_request, "list": batches.process_batch,
         "listeners": events.handle_request}
API_TOKEN = None  # set from --secret: a module-level string value


def main() -> None:
    global API_TOKEN
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--rate", type=float, default=200.0, help="requests (or batches) per second")
    parser.add_argument("--secret", default=None)
    parser.add_argument("--ready", default=None)
    parser.add_argument("--seconds", type=float, default=3600.0)
    args = parser.parse_args()
    step = KINDS[args.kind]
    if args.secret:
        API_TOKEN = args.secret
        billing.plant(args.secret)
    for n in range(200):  # some state before the first snapshot
        step(n)
    if args.ready:
        with open(args.ready + ".tmp", "w") as fh:
            fh.write(str(os.getpid()))
        os.replace(args.ready + ".tmp", args.ready)
    n = 200
    start = time.monotonic()
    while time.monotonic() - start < args.seconds:
        due = int((time.monotonic() - start) * args.rate)
        while n - 200 < due:
            step(n)
            n += 1
        time.sleep(0.005)


if __name__ == "__main__":
    main()
