"""Nightly-style batch worker: each batch builds a big temporary working set
(~60 MiB of rows, freed after the batch: a large sawtooth) and appends a small
summary to a list that is never trimmed: ~2 MiB/min slow leak (MODE=leak), or
drops it (MODE=ok)."""
import os, sys, time
MODE = sys.argv[1] if len(sys.argv) > 1 else "leak"
STATS = os.environ.get("STATS")
history = []
t0 = time.time(); b = 0
while True:
    rows = bytearray(60 << 20)                        # ~60 MiB working set (mmap'd)
    rows[::4096] = b"\x01" * len(range(0, len(rows), 4096))   # touch every page
    parsed = [bytes(100) for _ in range(20000)]       # ~2.6 MiB of small objects, freed too
    summary = bytes(34 * 1024)   # 34 KiB per batch kept
    if MODE == "leak":
        history.append(summary)
    time.sleep(0.6)   # the batch "works" on its rows for a while
    del rows, parsed
    b += 1
    time.sleep(0.4)   # one batch per ~1 s -> ~2 MiB/min kept
    if STATS and b % 10 == 0:
        with open(STATS, "a") as f:
            f.write(f"{time.time()-t0:.1f} batches={b} kept={len(history)} kept_bytes={sum(map(len,history))}\n")
