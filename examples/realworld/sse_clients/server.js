// Express Server-Sent Events: clients subscribe to /events and get a message broadcast every second.
//   node server.js keep    clients are added to a list and never removed when they disconnect: each
//                          closed response (socket, buffers, ~16 KB of per-client state) stays: LEAK (linear).
//   node server.js prune   the client is removed from the list on 'close': NO LEAK (stable).
'use strict';
const express = require('express');

const mode = process.argv[2] || 'keep';
const port = Number(process.env.PORT || 3000);
const clients = [];

const app = express();
app.get('/events/:id', (req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  const client = { id: req.params.id, res, backlog: new Array(200).fill(null).map((_, k) => ({ k, text: 'event ' + k })) };
  clients.push(client);
  res.write(`data: hello ${client.id}\n\n`);
  req.on('close', () => {
    if (mode === 'prune') {
      const k = clients.indexOf(client);
      if (k >= 0) clients.splice(k, 1);
    }
  });
});

setInterval(() => {
  for (const c of clients) {
    if (!c.res.writableEnded && !c.res.destroyed) c.res.write(`data: tick ${Date.now()}\n\n`);
  }
}, 1000).unref();
app.listen(port, '127.0.0.1', () => console.log(`sse_clients (${mode}) on ${port}`));
