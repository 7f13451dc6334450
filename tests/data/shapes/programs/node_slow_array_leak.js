const http = require('http');
const crypto = require('crypto');
const { fork } = require('child_process');
const path = require('path');

const history = [];

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const scratch = Array.from({ length: 400 }, (_, i) => ({ i, v: Math.random().toString(36) }));
  const entry = {
    path: url.pathname, seq: Number(url.searchParams.get('seq')), at: Date.now(),
    ua: req.headers['user-agent'] || '', trace: crypto.randomBytes(900).toString('hex'),
  };
  history.push(entry);
  const out = JSON.stringify({ n: history.length, top: scratch.slice(0, 3) });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(out);
});

server.listen(0, '127.0.0.1', () => {
  const gen = fork(path.join(__dirname, 'loadgen.js'), [server.address().port, 20]);
  setTimeout(() => { gen.kill(); process.exit(0); }, Number(process.argv[2] || 150) * 1000);
});
