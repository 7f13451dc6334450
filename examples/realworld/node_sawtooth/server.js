// Express report endpoint: each request builds a large working set (~1.5 MB of row objects) that
// lives for a few seconds (a slow downstream call), so it reaches V8's old space and is freed by
// major GCs: a large sawtooth.
//   node server.js keep   each request also appends a ~4 KB audit record to a module-level array
//                         that is never trimmed: a slow LEAK under the sawtooth (sawtooth, rising floor).
//   node server.js drop   no audit array: NO LEAK (sawtooth).
'use strict';
const express = require('express');

const mode = process.argv[2] || 'keep';
const port = Number(process.env.PORT || 3000);
const audit = [];

const app = express();
app.get('/report/:id', (req, res) => {
  const rows = [];
  for (let k = 0; k < 12000; k++) rows.push({ k, name: 'row ' + k, value: k * 1.5 });
  if (mode === 'keep') audit.push({ id: req.params.id, at: Date.now(), note: 'r'.repeat(4000) + req.params.id });
  setTimeout(() => {
    res.json({ id: req.params.id, rows: rows.length, audit: audit.length });
  }, 3000);
});
app.listen(port, '127.0.0.1', () => console.log(`node_sawtooth (${mode}) on ${port}`));
