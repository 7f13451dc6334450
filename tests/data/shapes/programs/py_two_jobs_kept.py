"""A job runner that keeps each job's 150 MB result: two jobs, at 20 s and at 45 s, then idle.

Recorded: memdoctor run --interval 100ms --duration 90s -- python3 py_two_jobs_kept.py
"""

import time

JOB_AT_S = (20, 45)
results = []  # every job's result, never dropped
start = time.monotonic()
while time.monotonic() - start < 200:
    if len(results) < len(JOB_AT_S) and time.monotonic() - start >= JOB_AT_S[len(results)]:
        result = bytearray(150 * 1024 * 1024)
        for i in range(0, len(result), 4096):
            result[i] = 1  # touch every page: resident, not only reserved
        results.append(result)
    time.sleep(0.05)
