# Recorded as py_job_results_kept_180s.jsonl by `memdoctor run -d 3m -- python3 L5_steps_worker.py` (1 s).
"""Job worker: a job arrives every 12 s; processing builds ~60 MB of temporary data and
yields a 12 MB result that is stored in RESULTS[job_id] and never removed
-> leak in steps (one step per job, flat in between)."""
import time
import numpy as np

RESULTS = {}
job = 0
while True:
    job += 1
    work = [np.random.rand(1_000_000) for _ in range(8)]           # ~64 MB temporary
    agg = np.sum(work, axis=0)
    RESULTS[job] = np.concatenate([agg, agg[:500_000]])            # 12 MB kept: the leak
    del work, agg
    for _ in range(24):                                           # idle: small transient work
        _ = [i * i for i in range(20000)]; time.sleep(0.5)
