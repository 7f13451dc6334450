"""Flask (served by waitress) job runner: POST /job runs one batch (20,000 records parsed, ~6 MB of
Python objects), uploads it (a 2 s wait while the records are held) and answers with its summary.

    python3 app.py keep   the full result list is stored in a module-level dict by job id "for later
                          download" and never removed: memory rises by one job's results per job:
                          LEAK (step).
    python3 app.py drop   only the summary is kept (a few bytes per job); the records are freed when
                          the job ends and the next job reuses that memory: NO LEAK (plateau at the
                          first jobs' high-water mark).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time

from flask import Flask, jsonify
from waitress import serve

MODE = sys.argv[1] if len(sys.argv) > 1 else "keep"
RECORDS = 20_000
UPLOAD_S = 2.0  # the time a job holds its records after building them (a slow downstream write)
app = Flask(__name__)
results: dict[int, list[dict]] = {}
summaries: dict[int, dict] = {}
ids = itertools.count()
lock = threading.Lock()


def run_batch(job: int) -> list[dict]:
    out = []
    for k in range(RECORDS):
        line = f"{job},{k},customer-{k % 977},{(k * 37) % 1000 / 10:.2f}"
        jid, idx, who, amount = line.split(",")
        out.append({"job": int(jid), "idx": int(idx), "who": who, "amount": float(amount)})
    return out


@app.post("/job")
def job():
    with lock:
        n = next(ids)
    rows = run_batch(n)
    time.sleep(UPLOAD_S)
    summary = {"job": n, "count": len(rows), "total": round(sum(r["amount"] for r in rows), 2)}
    with lock:
        summaries[n] = summary
        if MODE == "keep":
            results[n] = rows
    return jsonify(summary)


if __name__ == "__main__":
    print(f"batch_jobs ({MODE}) on {os.environ.get('PORT', '5000')}", flush=True)
    serve(app, host="127.0.0.1", port=int(os.environ.get("PORT", "5000")), threads=2, _quiet=True)
