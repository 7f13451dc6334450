// Recorded 4 min by `memdoctor run --interval 0.2` under `python3 loadgen.py PORTFILE 50 240` (50 requests/s, unique ids)
// with lru-cache 11.5.4 (npm install lru-cache@11.5.4); run as `node node_lru_fill_4min.js PORTFILE`.
// Node http server with lru-cache (max 6000 entries of ~8 KB rendered pages): unique keys at ~45 req/s
// fill it in ~2 min; afterwards it evicts and memory should stay flat.
const http = require('http'); const fs = require('fs');
const { LRUCache } = require('lru-cache');
const portfile = process.argv[2];
const cache = new LRUCache({ max: 6000 });
const srv = http.createServer((req, res) => {
  let v = cache.get(req.url);
  if (!v) { v = Buffer.from(('<tr>' + req.url + '</tr>').repeat(8192 / (9 + req.url.length) | 0)); cache.set(req.url, v); }
  res.writeHead(200); res.end(v);
});
srv.listen(0, '127.0.0.1', () => fs.writeFileSync(portfile, String(srv.address().port)));
