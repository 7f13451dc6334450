// Same Express job endpoint; the ticker is cleared when the response finishes.
const express = require('express');
const crypto = require('crypto');
const { listen } = require('./common');
const app = express();
let ticks = 0;
app.get('/job', (req, res) => {
  const ctx = { id: req.query.id, payload: crypto.randomBytes(2560).toString('hex'), started: Date.now() };
  const t = setInterval(() => { ticks += ctx.payload.length > 0 ? 1 : 0; }, 1000);
  res.on('finish', () => clearInterval(t));
  res.on('close', () => clearInterval(t));
  setTimeout(() => res.json({ id: ctx.id, ticks }), 300);
});
listen(require('http').createServer(app), process.argv[2]);
