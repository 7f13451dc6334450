// Recorded 4 min by `memdoctor run -i 200ms` under `python3 load_threads.py PORT 50 244 '/?id={i}'`; needs express (npm).
// express server; each request subscribes to a shared EventEmitter ("config reloaded") with a closure over request context.
// mode leak: the listener is never removed; mode ok: removed when the response finishes.
const express = require('express');
const { EventEmitter } = require('events');
const crypto = require('crypto');
const [mode, port] = [process.argv[2], +process.argv[3]];
const bus = new EventEmitter();
bus.setMaxListeners(0);
const app = express();
app.get('/', (req, res) => {
  const ctx = { id: req.query.id, token: crypto.randomBytes(512).toString('hex'), started: Date.now() };
  const onReload = (cfg) => { ctx.cfg = cfg; };
  bus.on('reload', onReload);
  if (mode === 'ok') res.on('finish', () => bus.off('reload', onReload));
  res.send(`ok ${bus.listenerCount('reload')}`);
});
app.listen(port, '127.0.0.1');
