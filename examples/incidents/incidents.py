"""The incidents behind memdoctor, each reproduced in small (Python; run under `memdoctor run`).

    python3 examples/incidents/incidents.py KIND [--seconds N]

KIND, and the container the report must name:
  dead_letter_queue  a dead-letter queue with no maximum: failed messages kept forever
                     -> __main__.DEAD_LETTERS
  sse_clients        SSE clients appended on connect, never pruned when they go away
                     -> __main__.SseHub.clients (a class attribute)
  subscriptions      handlers subscribed per request, never unsubscribed
                     -> __main__.LISTENERS
  batch_writer       a batch writer whose buffer grows while the database is down
                     -> __main__.BatchWriter.pending (a class attribute)
  record_array       an ever-growing array of resolved records
                     -> __main__.RESOLVED
  worker_pool        jobs of ~40 MB each started in waves: no leak, a budget question
                     (`memdoctor caps --trace` turns the step heights into a concurrency)

Every kind but worker_pool leaks ~4 MiB/s, so a few seconds of recording show it.
"""

import argparse
import threading
import time
from typing import ClassVar

DEAD_LETTERS = []  # the incident's queue had a cap of 500, far too large for its 2 MB messages
LISTENERS = []  # (topic, handler) pairs; nobody ever unsubscribes
RESOLVED = []  # records kept after they were resolved


class SseHub:
    clients: ClassVar[list] = []  # every client that ever connected; disconnected ones are never removed


class BatchWriter:
    pending: ClassVar[list] = []  # rows waiting for the database; no maximum while it is down
    database_up = False


def dead_letter_queue(i):
    DEAD_LETTERS.append({"attempts": 5, "payload": bytearray(80 * 1024)})


def sse_clients(i):
    SseHub.clients.append({"connected": time.time(), "send_buffer": bytearray(80 * 1024), "open": i % 10 == 0})


def _make_handler():
    state = bytearray(80 * 1024)  # what the handler closes over: kept as long as the subscription

    def on_event(event):
        return len(state)

    return on_event


def subscriptions(i):
    LISTENERS.append(("price-updates", _make_handler()))


def batch_writer(i):
    BatchWriter.pending.append({"row": i, "blob": bytearray(80 * 1024)})
    if BatchWriter.database_up:  # never: the database is down for the whole run
        BatchWriter.pending.clear()


def record_array(i):
    RESOLVED.append({"id": i, "status": "resolved", "document": bytearray(80 * 1024)})


def _job(megabytes, seconds):
    work = bytearray(megabytes * 1024 * 1024)  # one job's working set, freed when the job ends
    work[::4096] = b"\x01" * len(work[::4096])
    time.sleep(seconds)


def worker_pool(stop_at):
    # Waves of 1, 2, 3 concurrent jobs of 40 MB: the steps of the trace are the per-job peak.
    while time.monotonic() < stop_at:
        for concurrency in (1, 2, 3):
            threads = []
            for _ in range(concurrency):
                # Jobs start 0.5 s apart and end together; each holds its 40 MB for at least 0.5 s alone, longer
                # than its pages take to fault in on a busy machine (0.35 s under two CPU hogs), so the trace
                # shows every job held, as a job's working set is, before the next one starts on top of it.
                thread = threading.Thread(target=_job, args=(40, 1.5 - 0.5 * len(threads)))
                thread.start()
                threads.append(thread)
                time.sleep(0.5)
            for thread in threads:
                thread.join()
            time.sleep(0.3)


KINDS = {"dead_letter_queue": dead_letter_queue, "sse_clients": sse_clients, "subscriptions": subscriptions,
         "batch_writer": batch_writer, "record_array": record_array}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=sorted([*KINDS, "worker_pool"]))
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: until killed)")
    args = parser.parse_args()
    stop_at = time.monotonic() + (args.seconds or 1e9)
    if args.kind == "worker_pool":
        worker_pool(stop_at)
        return
    step = KINDS[args.kind]
    i = 0
    while time.monotonic() < stop_at:
        step(i)
        i += 1
        time.sleep(0.02)


if __name__ == "__main__":
    main()
