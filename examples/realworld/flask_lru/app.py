"""Flask (served by waitress) price service with a memoised method on a long-lived object.

    python3 app.py unbounded   functools.lru_cache(maxsize=None) on the method: every (self, sku,
                               currency) is kept; the load quotes a new sku each request: LEAK (linear).
    python3 app.py bounded     functools.lru_cache(maxsize=1024): at most 1024 quotes kept, filled in
                               ~30 s: NO LEAK (stable).
"""

from __future__ import annotations

import functools
import os
import sys

from flask import Flask, jsonify
from waitress import serve

MODE = sys.argv[1] if len(sys.argv) > 1 else "unbounded"
MAXSIZE = None if MODE == "unbounded" else 1024


class Pricer:
    def __init__(self) -> None:
        self.rates = {"EUR": 0.92, "USD": 1.0, "GBP": 0.79}

    @functools.lru_cache(maxsize=MAXSIZE)  # noqa: B019 - the pattern this example is about
    def quote(self, sku: str, currency: str) -> dict:
        # ~3 KB per quote: a price history and a description
        return {"sku": sku, "price": len(sku) * self.rates[currency], "history": [float(k) for k in range(250)],
                "text": f"quote for {sku} " * 40}


pricer = Pricer()
app = Flask(__name__)


@app.get("/quote/<sku>")
def quote(sku: str):
    q = pricer.quote(sku, "EUR")
    return jsonify(sku=q["sku"], price=q["price"], cached=pricer.quote.cache_info().currsize)


if __name__ == "__main__":
    print(f"flask_lru ({MODE}) on {os.environ.get('PORT', '5000')}", flush=True)
    serve(app, host="127.0.0.1", port=int(os.environ.get("PORT", "5000")), threads=4, _quiet=True)
