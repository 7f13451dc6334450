// usage: node loadgen.js PORT RATE [PATH_KEYS] [BODY_BYTES]
const http = require('http');
const [port, rate, keys = '1000', bodyBytes = '0'] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let seq = 0;

function fire() {
  const id = seq++;
  const body = bodyBytes ? JSON.stringify({ id, blob: 'b'.repeat(bodyBytes) }) : '';
  const req = http.request({
    host: '127.0.0.1', port, agent, method: body ? 'POST' : 'GET',
    path: `/item/${Math.floor(Math.random() * keys)}?seq=${id}`,
    headers: { 'content-type': 'application/json', 'x-request-id': String(id) },
  }, (res) => { res.resume(); });
  req.on('error', () => {});
  req.end(body);
}

setInterval(fire, 1000 / rate);
process.on('disconnect', () => process.exit(0));
