"""A bounded HTTP load on 127.0.0.1 (stdlib only): the traffic the real-world examples are recorded under.

    python3 load.py --port 8080 --path '/item/{i}' --rate 40 --duration 120

Sends `--rate` requests per second, spread over `--threads` worker threads, for `--duration`
seconds (and never more than `--max-requests`), to http://127.0.0.1:PORT only. `{i}` in the path
is the request's number (a new key every request); with `--keys N` it is taken modulo N, so the
keys repeat. Modes:

- `get`: GET the path and read the whole answer (keep-alive connection per thread).
- `sse`: open the path as a Server-Sent Events stream, read the first event, close the stream
  (a browser tab that goes away).
- `post`: POST the path with an empty body (a job submission) and read the answer.

Prints one summary line (requests sent, errors, achieved rate) on stderr at the end.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time

HOST = "127.0.0.1"  # the only host this driver ever talks to
TIMEOUT_S = 30.0  # one request's socket timeout: a stuck server must not hang the recording


class Counter:
    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self.limit = limit
        self.errors = 0

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self.limit:
                return None
            self._next += 1
            return self._next - 1

    def error(self) -> None:
        with self._lock:
            self.errors += 1

    @property
    def sent(self) -> int:
        with self._lock:
            return self._next


def _one(conn: http.client.HTTPConnection | None, port: int, mode: str, path: str) -> http.client.HTTPConnection | None:
    """One request; returns the connection to reuse (None: open a new one next time)."""
    if mode == "sse":
        c = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT_S)
        try:
            c.request("GET", path, headers={"Accept": "text/event-stream"})
            r = c.getresponse()
            r.fp.readline()  # the first line of the first event: the client is registered
        finally:
            c.close()
        return None
    if conn is None:
        conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT_S)
    try:
        conn.request("POST" if mode == "post" else "GET", path, body=b"" if mode == "post" else None)
        r = conn.getresponse()
        r.read()
        if r.status >= 500:
            raise OSError(f"HTTP {r.status}")
        if r.will_close:
            conn.close()
            return None
        return conn
    except BaseException:
        conn.close()
        raise


def worker(port: int, mode: str, path: str, keys: int, period: float, t0: float, stop_at: float,
           counter: Counter, offset: float) -> None:
    conn = None
    due = t0 + offset
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        if due > now:
            time.sleep(min(due - now, stop_at - now))
            continue
        i = counter.take()
        if i is None:
            break
        key = i % keys if keys else i
        try:
            conn = _one(conn, port, mode, path.replace("{i}", str(key)))
        except (OSError, http.client.HTTPException):
            counter.error()
            conn = None
            time.sleep(0.05)
        due += period
        if due < time.monotonic() - 1.0:
            due = time.monotonic()  # fell behind by a second: do not burst to catch up
    if conn is not None:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/item/{i}")
    ap.add_argument("--mode", choices=("get", "sse", "post"), default="get")
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second (all threads)")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds")
    ap.add_argument("--keys", type=int, default=0, help="repeat keys modulo this (0: every key new)")
    ap.add_argument("--max-requests", type=int, default=200_000, help="hard bound on requests")
    args = ap.parse_args(argv)
    if not (0 < args.port < 65536 and args.rate > 0 and 0 < args.duration <= 3600 and 1 <= args.threads <= 64):
        print("load.py: bad --port/--rate/--duration/--threads", file=sys.stderr)
        return 2
    period = args.threads / args.rate
    t0 = time.monotonic()
    stop_at = t0 + args.duration
    counter = Counter(args.max_requests)
    threads = [
        threading.Thread(target=worker, daemon=True,
                         args=(args.port, args.mode, args.path, args.keys, period, t0, stop_at, counter,
                               k * period / args.threads))
        for k in range(args.threads)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=args.duration + TIMEOUT_S + 5)
    took = time.monotonic() - t0
    print(f"load: {counter.sent} requests, {counter.errors} errors, {counter.sent / took:.1f}/s over {took:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
