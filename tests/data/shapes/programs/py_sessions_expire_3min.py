# http.server app: each request logs in a new client and stores a session (~12 KB of state).
# mode "expire": sessions older than 30 s are purged every 2 s (healthy plateau);
# mode "noexpire": the purge is missing (leak).
import sys, time, threading, uuid, json
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
mode, portfile = sys.argv[1], sys.argv[2]
SESSIONS = {}
LOCK = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        sid = uuid.uuid4().hex
        state = {"user": self.path, "cart": [{"sku": i, "name": "item-%d-%s" % (i, sid)} for i in range(60)],
                 "blob": bytes(6000), "created": time.time()}
        with LOCK:
            SESSIONS[sid] = state
        body = json.dumps({"sid": sid, "n": len(SESSIONS)}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
def reaper():
    while True:
        time.sleep(2)
        now = time.time()
        with LOCK:
            for k in [k for k, v in SESSIONS.items() if now - v["created"] > 30]:
                del SESSIONS[k]
if mode == "expire":
    threading.Thread(target=reaper, daemon=True).start()
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile, "w").write(str(srv.server_address[1]))
srv.serve_forever()
