// Express with a shared EventEmitter (a config/pub-sub bus): every request subscribes to it so it
// can react to a config change while it runs.
//   node server.js keep     the listener is never removed: every request's closure (and the ~8 KB
//                           of request context it captured) stays on the bus: LEAK (linear).
//   node server.js remove   the listener is removed when the response finishes: NO LEAK (stable).
'use strict';
const express = require('express');
const { EventEmitter } = require('events');

const mode = process.argv[2] || 'keep';
const port = Number(process.env.PORT || 3000);
const bus = new EventEmitter();
bus.setMaxListeners(0); // the warning is off, as in the services where this leak was found

const app = express();
app.get('/work/:id', (req, res) => {
  const context = { id: req.params.id, headers: { ...req.headers }, scratch: Buffer.alloc(8192, 1) };
  const onConfig = (cfg) => { context.cfg = cfg; };
  bus.on('config', onConfig);
  res.on('finish', () => {
    if (mode === 'remove') bus.off('config', onConfig);
  });
  res.json({ id: context.id, listeners: bus.listenerCount('config') });
});

setInterval(() => bus.emit('config', { at: Date.now() }), 5000).unref();
app.listen(port, '127.0.0.1', () => console.log(`emitter_listeners (${mode}) on ${port}`));
