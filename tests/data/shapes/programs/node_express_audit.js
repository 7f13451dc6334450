// express; each request makes ~400 KB garbage (big GC sawtooth) and keeps ~400 B in an audit log: at 50 req/s ~1.1 MiB/min (SLOW LEAK)
// MODE=healthy: audit log trimmed to the last 1000 entries
const path = require('path');
// needs: npm install express@5 lru-cache@11 (beside this file)
const express = require('express');
const { fork } = require('child_process');
const [mode, port] = [process.argv[2], Number(process.argv[3])];
const auditLog = [];
const app = express();
app.get('/work', (req, res) => {
  const tmp = [];
  for (let k = 0; k < 10; k++) tmp.push(Array.from({ length: 5000 }, (_, j) => j + k + 0.5));   // ~400 KB of garbage (doubles)
  auditLog.push({ rid: req.query.rid, vals: Array.from({ length: 40 }, (_, j) => j + 0.25), n: tmp.length });
  if (mode === 'healthy' && auditLog.length > 1000) auditLog.shift();
  res.send('ok ' + auditLog.length);
});
app.listen(port, '127.0.0.1', () => fork(path.join(__dirname, 'loadgen_rps.js'), [String(port), '/work', '50']));
