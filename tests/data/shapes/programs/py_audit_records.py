# Recorded 5 min by `memdoctor run -i 200ms` under `python3 load_threads.py PORT 30 304 '/?id={i}'`.
# http.server app: each request builds ~2 MB of temporary bytearrays (dropped: a large sawtooth) and, in mode
# leak, appends a ~700-byte audit record (a dict) to a module-level list that is never trimmed (~1 MiB/min at 30/s).
import sys, http.server, socketserver, os, time
MODE, PORT = sys.argv[1], int(sys.argv[2])
AUDIT = []
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        tmp = [bytearray(os.urandom(1024)) * 256 for _ in range(8)]  # 8 x 256 KiB, dropped at return
        digest = sum(len(b) for b in tmp)
        if MODE == "leak":
            AUDIT.append({"path": self.path, "t": time.time(), "ua": "x" * 600, "n": digest})
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
socketserver.TCPServer.allow_reuse_address = True
with socketserver.TCPServer(("127.0.0.1", PORT), H) as s:
    s.serve_forever()
