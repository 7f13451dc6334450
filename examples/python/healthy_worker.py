"""A request handler with only transient garbage: each request's buffers are freed after it.

Memory goes up and down (allocator and GC churn) around a flat floor: no leak.
Usage: python3 healthy_worker.py [--rate-kb 400] [--every 0.05] [--seconds N]
"""

import argparse
import time


def handle(request_id: int, payload_kb: int) -> int:
    body = bytearray(payload_kb * 1024)
    parts = [bytes(body[i : i + 4096]) for i in range(0, len(body), 4096)]
    return len(parts) + request_id % 7


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate-kb", type=int, default=400)
    parser.add_argument("--every", type=float, default=0.05)
    parser.add_argument("--seconds", type=float, default=0)
    args = parser.parse_args()
    start = time.monotonic()
    i = 0
    batch = []
    while not args.seconds or time.monotonic() - start < args.seconds:
        batch.append(handle(i, args.rate_kb))
        if len(batch) >= 20:
            batch.clear()  # the batch is flushed: nothing is kept
        i += 1
        time.sleep(args.every)


if __name__ == "__main__":
    main()
