'use strict';
// fastify session-store demo: `node node_fastify_sessions.js leak|ok` (needs `npm install fastify@5` beside it)
//  leak: sessions kept in a Map forever (in-memory session store without expiry)
//  ok:   same store, swept every 5 s; sessions older than 10 s are deleted
// The server listens on 127.0.0.1:0; a forked child process (same script,
// role "load") drives it at RATE req/s with unique session ids over HTTP.
const { fork } = require('node:child_process');
const http = require('node:http');
const crypto = require('node:crypto');

const RATE = Number(process.env.RATE || 150);          // requests per second
const ITEMS = Number(process.env.ITEMS || 3);         // cart items per session

function runServer(mode) {
  const fastify = require('fastify')({ logger: false });
  const sessions = new Map();                          // sid -> session

  function newSession(sid, req) {
    const items = [];
    for (let i = 0; i < ITEMS; i++) {
      items.push({
        sku: 'SKU-' + crypto.randomBytes(6).toString('hex'),
        title: 'Product ' + i + ' ' + crypto.randomBytes(24).toString('base64'),
        qty: (i % 5) + 1,
        price: Math.round(Math.random() * 10000) / 100,
      });
    }
    return {
      id: sid,
      createdAt: Date.now(),
      user: {
        name: 'user-' + sid.slice(0, 8),
        email: sid.slice(0, 12) + '@example.test',
        agent: String(req.headers['user-agent'] || ''),
        prefs: { theme: 'dark', lang: 'en', tz: 'UTC' },
      },
      cart: items,
      csrf: crypto.randomBytes(32).toString('hex'),
      history: [req.url],
    };
  }

  fastify.get('/api/cart', async (req, reply) => {
    const m = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie || '');
    let sid = m ? m[1] : null;
    let s = sid && sessions.get(sid);
    if (!s) {
      if (!sid) sid = crypto.randomUUID();
      s = newSession(sid, req);
      sessions.set(sid, s);
      reply.header('set-cookie', `sid=${sid}; HttpOnly`);
    } else {
      s.history.push(req.url);
    }
    return { sid, items: s.cart.length, sessions: sessions.size };
  });

  if (mode === 'ok') {
    setInterval(() => {
      const cutoff = Date.now() - 10_000;
      for (const [sid, s] of sessions) if (s.createdAt < cutoff) sessions.delete(sid);
    }, 5_000).unref();
  }

  fastify.listen({ host: '127.0.0.1', port: 0 }).then(() => {
    const port = fastify.server.address().port;
    console.log(`[server ${mode}] pid ${process.pid} listening on 127.0.0.1:${port}`);
    const child = fork(__filename, ['load', String(port)], { stdio: 'inherit' });
    const stop = () => { child.kill('SIGTERM'); fastify.close().then(() => process.exit(0)); };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    setInterval(() => console.log(`[server ${mode}] sessions=${sessions.size} rss=${(process.memoryUsage().rss / 1048576).toFixed(1)}MiB`), 30_000).unref();
  });
}

function runLoad(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const TICK = 20;                                     // ms
  let credit = 0, sent = 0, done = 0, errors = 0;
  function one() {
    const sid = crypto.randomUUID();                   // unique session per request
    const req = http.request({ host: '127.0.0.1', port, path: '/api/cart', agent,
      headers: { cookie: `sid=${sid}`, 'user-agent': 'memdoctor-loadgen/1.0' } }, (res) => {
      res.resume();
      res.on('end', () => { done++; });
    });
    req.on('error', () => { errors++; });
    req.end();
    sent++;
  }
  setInterval(() => {
    credit += RATE * TICK / 1000;
    while (credit >= 1) { one(); credit -= 1; }
  }, TICK);
  setInterval(() => console.log(`[load] sent=${sent} done=${done} errors=${errors}`), 30_000).unref();
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
}

const role = process.argv[2];
if (role === 'load') runLoad(Number(process.argv[3]));
else if (role === 'leak' || role === 'ok') runServer(role);
else { console.error('usage: node server.js leak|ok'); process.exit(2); }
