# Flask app; MODE=dict: plain dict cache keyed by unique request id (LEAK)
# MODE=ttl: cachetools.TTLCache(maxsize=5000, ttl=10) (HEALTHY)
import sys, os, threading, time, urllib.request, logging
# needs: pip install flask==3.1.3 cachetools==8.0.3
from flask import Flask, request
import cachetools
MODE = sys.argv[1]; PORT = int(sys.argv[2])
logging.getLogger("werkzeug").setLevel(logging.ERROR)
app = Flask(__name__)
if MODE == "dict":
    _response_cache = {}
else:
    _response_cache = cachetools.TTLCache(maxsize=5000, ttl=10)
@app.route("/item")
def item():
    rid = request.args["rid"]
    body = ("x" * 3000) + rid
    _response_cache[rid] = {"body": body, "headers": dict(request.headers)}
    return body[:20]
def load():
    time.sleep(1.0); i = 0
    while True:
        t0 = time.time()
        for _ in range(10):
            i += 1
            try: urllib.request.urlopen(f"http://127.0.0.1:{PORT}/item?rid=req-{i}", timeout=5).read()
            except Exception as e: print("load err", e, file=sys.stderr)
        time.sleep(max(0, 0.2 - (time.time() - t0)))   # ~50 req/s
threading.Thread(target=load, daemon=True).start()
app.run(host="127.0.0.1", port=PORT, threaded=True)
