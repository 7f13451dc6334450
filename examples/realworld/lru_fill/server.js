// Express + lru-cache: a lookup service that caches each rendered item (~3 KB) under its key.
// The load asks for a new key every request, so the cache fills for minutes; at max (30000 items,
// ~90 MB) lru-cache evicts the oldest one per new one and memory levels off: NO LEAK (plateau,
// a long cache fill).
'use strict';
const express = require('express');
const { LRUCache } = require('lru-cache');

const port = Number(process.env.PORT || 3000);
const max = Number(process.argv[2] || 30000);
const cache = new LRUCache({ max, ttl: 3600 * 1000 });

function render(key) {
  return { key, html: `<div class="item">${key}</div>`.padEnd(3000, ' '), at: Date.now() };
}

const app = express();
app.get('/item/:key', (req, res) => {
  let item = cache.get(req.params.key);
  if (!item) {
    item = render(req.params.key);
    cache.set(req.params.key, item);
  }
  res.json({ key: item.key, size: cache.size });
});
app.listen(port, '127.0.0.1', () => console.log(`lru_fill (max ${max}) on ${port}`));
