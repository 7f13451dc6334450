"""HTTP API server + load generator child. MODE=leak keeps every request's
record in a module-level dict forever; MODE=lru keeps the newest 500 only."""
import json, os, socket, subprocess, sys, threading, time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[1] if len(sys.argv) > 1 else "leak"
RATE = float(os.environ.get("RATE", "80"))   # requests per second from the load generator
STATS = os.environ.get("STATS")
_sessions = OrderedDict()
_lock = threading.Lock()
_count = 0

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        global _count
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        rec = {"path": self.path, "headers": dict(self.headers), "body": body,
               "ts": time.time(), "audit": bytes(2048)}
        with _lock:
            _count += 1
            _sessions[f"req-{_count}"] = rec
            if MODE == "lru":
                while len(_sessions) > 500:
                    _sessions.popitem(last=False)
        out = json.dumps({"ok": True, "id": _count}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers()
        self.wfile.write(out)

LOAD = r'''
import sys, time, http.client, os
port, rate = int(sys.argv[1]), float(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
payload = os.urandom(1024).hex().encode()   # 2 KiB body
t0 = time.time(); i = 0
while True:
    try:
        c.request("POST", "/orders/%d" % i, body=payload, headers={"Content-Type":"application/json"})
        c.getresponse().read()
    except Exception:
        c = http.client.HTTPConnection("127.0.0.1", port)
    i += 1
    delay = t0 + i / rate - time.time()
    if delay > 0: time.sleep(delay)
'''

def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    load = subprocess.Popen([sys.executable, "-c", LOAD, str(port), str(RATE)])
    t0 = time.time()
    try:
        while True:
            time.sleep(5)
            if STATS:
                with open(STATS, "a") as f:
                    f.write(f"{time.time()-t0:.1f} count={_count} kept={len(_sessions)}\n")
    finally:
        load.kill()

if __name__ == "__main__":
    main()
