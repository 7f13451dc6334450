// Recorded 6 min by `memdoctor run -i 200ms` under `python3 load_threads.py PORT 50 364 '/?id={i}'` (50 requests/s, 4 threads).
// node http server that batches request payload buffers and flushes the batch every 15 s (a large sawtooth).
// mode leak: additionally keeps a per-request closure (over a ~250-byte string) in an array forever (slow leak);
// mode ok: the closure is used once and dropped.
const http = require('http');
const [mode, port] = [process.argv[2], +process.argv[3]];
let batch = [];
const hooks = [];
let n = 0;
setInterval(() => { batch = []; }, 15000);
http.createServer((req, res) => {
  n++;
  const payload = Buffer.alloc(96 * 1024, n & 0xff);   // per-request payload, held until the batch flush
  batch.push(payload);
  const meta = `${n}:${req.url}:` + 'x'.repeat(230) + Math.random();
  const hook = () => meta.length;
  if (mode === 'leak') hooks.push(hook); else hook();
  res.end('ok ' + hooks.length);
}).listen(port, '127.0.0.1');
