"""Flask (served by waitress) product-page service that caches each rendered page by its URL key.

    python3 app.py dict   a plain dict cache: every new key is kept forever; the load asks for a
                          new key each request: LEAK (linear).
    python3 app.py ttl    cachetools.TTLCache(maxsize=2000, ttl=60): fills to 2000 pages in about a
                          minute, then evicts: NO LEAK (plateau).
    python3 app.py lru N  cachetools.LRUCache(maxsize=N): a long fill (12000 pages at 50 req/s take
                          four minutes), then one eviction per new page: NO LEAK (plateau).
"""

from __future__ import annotations

import os
import sys
import threading

import cachetools
from flask import Flask, jsonify
from waitress import serve

MODE = sys.argv[1] if len(sys.argv) > 1 else "dict"
app = Flask(__name__)
lock = threading.Lock()
cache: dict[str, dict] | cachetools.Cache
if MODE == "ttl":
    cache = cachetools.TTLCache(maxsize=2000, ttl=60)
elif MODE == "lru":
    cache = cachetools.LRUCache(maxsize=int(sys.argv[2]) if len(sys.argv) > 2 else 12000)
else:
    cache = {}


def render(key: str) -> dict:
    # ~4 KB per page: a title, a body and a few small fields, as a template would produce
    return {"key": key, "title": f"Product {key}", "body": ("lorem ipsum " * 330) + key, "tags": ["a", "b", key]}


@app.get("/item/<key>")
def item(key: str):
    with lock:
        page = cache.get(key)
        if page is None:
            page = render(key)
            cache[key] = page
        size = len(cache)
    return jsonify(key=page["key"], cached=size)


if __name__ == "__main__":
    print(f"flask_cache ({MODE}) on {os.environ.get('PORT', '5000')}", flush=True)
    serve(app, host="127.0.0.1", port=int(os.environ.get("PORT", "5000")), threads=4, _quiet=True)
