// express + lru-cache bounded at 15000 entries of ~3 KB, unique keys at 150 req/s: fills in ~100 s, then level (HEALTHY)
const path = require('path');
// needs: npm install express@5 lru-cache@11 (beside this file)
const express = require('express');
const { LRUCache } = require('lru-cache');
const { fork } = require('child_process');
const port = Number(process.argv[2]);
const cache = new LRUCache({ max: 15000 });
const app = express();
app.get('/item', (req, res) => {
  const v = { body: Array.from({ length: 380 }, (_, j) => j + 0.5), at: Date.now() };
  cache.set(req.query.rid, v);
  res.send('ok ' + cache.size);
});
app.listen(port, '127.0.0.1', () => fork(path.join(__dirname, 'loadgen_rps.js'), [String(port), '/item', '150']));
