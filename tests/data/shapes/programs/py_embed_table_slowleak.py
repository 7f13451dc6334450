# Recommendation service: loads a 320 MB float32 embedding table at start-up (16 x 20 MB
# chunks over ~4 s), then answers ~200 similarity queries/s. BUG: every query appends a
# ~750-byte audit record (small objects) to a module-level list that is never trimmed
# -> small leak (~0.15 MB/s) inside a ~350 MB process.
import time, numpy as np
rng = np.random.default_rng(7)
DIM = 64
chunks = []
for i in range(16):
    chunks.append(rng.standard_normal((20 * 1024 * 1024 // 4 // DIM, DIM), dtype=np.float32))
    time.sleep(0.25)
ROWS = sum(c.shape[0] for c in chunks)
AUDIT = []                      # the leak
t0 = time.monotonic(); n = 0
while True:
    # keep a wall-clock rate of 200 queries/s (no catch-up bursts beyond 20)
    due = int((time.monotonic() - t0) * 200)
    for _ in range(min(due - n, 20)):
        n += 1
        c = chunks[n % 16]
        q = c[n % c.shape[0]]
        scores = c[:512] @ q                      # small transient
        top = np.argsort(scores)[-5:]
        AUDIT.append({"qid": n, "user": f"user-{n % 9973}", "ts": time.time(),
                      "query": ("q%07d " % n) * 60, "top": [int(x) for x in top]})
    n = max(n, due - 20)
    time.sleep(0.005)
