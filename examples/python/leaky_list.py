"""A request handler that keeps every request record in a module-level list, forever.

The leak of many post-mortems: an "audit" or "recent requests" list with no maximum.
Usage: python3 leaky_list.py [--rate-kb 400] [--every 0.05] [--seconds N]
"""

import argparse
import time

_handled_requests = []  # never pruned: this is the leak


def handle(request_id: int, payload_kb: int) -> None:
    record = {"id": request_id, "body": bytearray(payload_kb * 1024), "ts": time.time()}
    _handled_requests.append(record)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate-kb", type=int, default=400, help="KB kept per request")
    parser.add_argument("--every", type=float, default=0.05, help="seconds between requests")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: run until killed)")
    args = parser.parse_args()
    start = time.monotonic()
    i = 0
    while not args.seconds or time.monotonic() - start < args.seconds:
        handle(i, args.rate_kb)
        i += 1
        time.sleep(args.every)


if __name__ == "__main__":
    main()
