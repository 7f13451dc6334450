// load generator child: node loadgen_rps.js PORT PATH RPS
const http = require('http');
const [port, path, rps] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let i = 0;
setTimeout(() => setInterval(() => {
  for (let k = 0; k < rps / 10; k++) {
    i++;
    http.get({ host: '127.0.0.1', port, path: `${path}?rid=r${i}`, agent }, (res) => { res.resume(); })
      .on('error', (e) => console.error('load err', e.message));
  }
}, 100), 1000);
process.on('disconnect', () => process.exit(0));
