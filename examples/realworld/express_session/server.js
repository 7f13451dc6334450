// Express + express-session: a login-ish endpoint that puts a small profile into the session.
// The load sends no cookie, so every request makes a new session.
//   node server.js memory   express-session's default MemoryStore: sessions are only dropped when
//                           read after they expire, so with a 1-day cookie every session is kept:
//                           LEAK (linear).
//   node server.js lru      the same sessions in a store on lru-cache (max 2000 sessions, ttl 10 min):
//                           fills to 2000 sessions in ~1 min, then evicts: NO LEAK (after V8
//                           sizes its heap, a GC sawtooth whose troughs do not climb).
'use strict';
const express = require('express');
const session = require('express-session');
const { LRUCache } = require('lru-cache');

const mode = process.argv[2] || 'memory';
const port = Number(process.env.PORT || 3000);

class LruStore extends session.Store {
  constructor(opts) {
    super();
    this.cache = new LRUCache(opts);
  }
  get(sid, cb) { cb(null, this.cache.get(sid) ?? null); }
  set(sid, sess, cb) { this.cache.set(sid, sess); cb && cb(null); }
  destroy(sid, cb) { this.cache.delete(sid); cb && cb(null); }
  touch(sid, sess, cb) { this.cache.get(sid); cb && cb(null); }
}

const store = mode === 'lru' ? new LruStore({ max: 2000, ttl: 10 * 60 * 1000 }) : undefined;
const app = express();
app.use(session({
  secret: 'example-only-not-a-secret',
  resave: false,
  saveUninitialized: false,
  store,
  cookie: { maxAge: 24 * 3600 * 1000 },
}));

app.get('/login/:user', (req, res) => {
  // ~4 KB of profile per session: what a real app caches (roles, preferences, a cart)
  req.session.user = req.params.user;
  req.session.profile = { roles: ['reader', 'writer'], prefs: 'x'.repeat(4000), at: Date.now() };
  res.json({ ok: true, user: req.params.user });
});

app.listen(port, '127.0.0.1', () => console.log(`express_session (${mode}) on ${port}`));
