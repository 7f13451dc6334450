"""Flask (served by waitress) ingest service with a batch writer: each request appends a 64 KB row
block to an in-memory buffer that is flushed (written to /dev/null and cleared) every 600 blocks
(~38 MB): a large sawtooth.

    python3 app.py keep   each request also appends a small audit record (~2 KB) to a list that is
                          never trimmed: a slow LEAK under the sawtooth (sawtooth, rising floor).
    python3 app.py drop   no audit list: NO LEAK (sawtooth).

Run with MALLOC_MMAP_THRESHOLD_=65536 (as the recording does) so glibc returns each freed block to
the kernel at once; without it the flushed buffer's pages may stay in the heap and hide the sawtooth.
"""

from __future__ import annotations

import os
import sys
import threading

from flask import Flask, jsonify
from waitress import serve

MODE = sys.argv[1] if len(sys.argv) > 1 else "keep"
FLUSH_BLOCKS = 600
BLOCK = 64 * 1024
app = Flask(__name__)
buffer: list[bytes] = []
audit: list[tuple[str, str]] = []
lock = threading.Lock()


@app.post("/ingest/<rid>")
def ingest(rid: str):
    block = os.urandom(16) * (BLOCK // 16)
    with lock:
        buffer.append(block)
        if MODE == "keep":
            audit.append((rid, f"ingested {rid} " + "." * 2000))
        if len(buffer) >= FLUSH_BLOCKS:
            with open(os.devnull, "wb") as sink:
                for b in buffer:
                    sink.write(b)
            buffer.clear()
        return jsonify(rid=rid, buffered=len(buffer), audit=len(audit))


if __name__ == "__main__":
    print(f"py_sawtooth ({MODE}) on {os.environ.get('PORT', '5000')}", flush=True)
    serve(app, host="127.0.0.1", port=int(os.environ.get("PORT", "5000")), threads=4, _quiet=True)
