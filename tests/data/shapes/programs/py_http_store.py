# An http.server app keeping a ~2.3 KB blob per request keyed by its unique path: 'leak' keeps all of them
# (py_dict_leak_170s), any other mode caps an OrderedDict at 3000 entries, oldest evicted (py_lru_fill_170s).
# usage: py_http_store.py MODE PORT, loaded by get_loop.py PORT 40
import sys, http.server, socketserver, collections, os
MODE=sys.argv[1]; PORT=int(sys.argv[2])
store={} if MODE=='leak' else collections.OrderedDict()
CAP=3000
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        rid=self.path
        store[rid]=os.urandom(2048)+bytes(self.headers)  # per-request session blob
        if MODE!='leak':
            while len(store)>CAP: store.popitem(last=False)
        self.send_response(200); self.send_header('Content-Length','2'); self.end_headers(); self.wfile.write(b'ok')
    def log_message(self,*a): pass
socketserver.TCPServer.allow_reuse_address=True
with socketserver.TCPServer(('127.0.0.1',PORT),H) as s: s.serve_forever()
