// Same ingest endpoint, but appends a ~420-byte summary record per request to an in-memory history that is never trimmed (~500 KiB/min at 20 req/s).
const http = require('http');
const { listen } = require('./common');
let total = 0;
const history = [];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    let s = 0;
    for (const r of doc.rows) s += r.v;
    total += doc.rows.length;
    history.push({ at: Date.now(), n: doc.rows.length, s, note: ('r' + total + ':').padEnd(400, '.') }); // never trimmed
    res.end(JSON.stringify({ n: doc.rows.length, s, total, hist: history.length }));
  });
});
listen(server, process.argv[2]);
