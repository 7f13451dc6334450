"""A prefork server whose workers warm up on data the parent loaded: the tree's RSS climbs, its PSS does not.

The parent fills a shared mapping (as gunicorn --preload or a Node cluster's primary would load a
model or a table), forks WORKERS workers, and each reads one more MiB of it every 50 ms. Every page a
worker reads is counted again in that worker's RSS, so the tree's RSS sum climbs ~80 MiB/s; PSS
shares each page among the processes that map it, so the tree's PSS stays at the mapping's size.
A memory regression gate on RSS would fail this healthy program; on PSS it passes.
"""

import mmap
import os
import sys
import time

SIZE = int(sys.argv[1]) << 20 if len(sys.argv) > 1 else 200 << 20
WORKERS = 4
CHUNK = 1 << 20

shared = mmap.mmap(-1, SIZE, flags=mmap.MAP_SHARED)
for offset in range(0, SIZE, mmap.PAGESIZE):
    shared[offset] = 1  # the parent holds every page: PSS counts the mapping once from the start
# The workers start reading together, a second after the last fork: what a fork costs (a worker's own
# pages, copied as its interpreter writes to them) is spent before, so PSS is flat while they read.
start = time.monotonic() + 1.0
for _ in range(WORKERS):
    if os.fork() == 0:
        time.sleep(max(0.0, start - time.monotonic()))
        for k, offset in enumerate(range(0, SIZE, CHUNK)):
            shared[offset:offset + CHUNK]  # noqa: B018 (reading maps the pages into this worker)
            time.sleep(max(0.0, start + (k + 1) * 0.05 - time.monotonic()))
        time.sleep(3600)
        os._exit(0)
print("ready", flush=True)  # the mapping is filled and the workers forked
while True:
    time.sleep(1)
