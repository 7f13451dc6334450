// Request handling with only transient garbage: buffers and objects die with each request.
// Usage: node healthy_server.js [kbPerRequest=200] [everyMs=50] [seconds=0 (forever)]
'use strict';

const kb = Number(process.argv[2] || 200);
const everyMs = Number(process.argv[3] || 50);
const seconds = Number(process.argv[4] || 0);
let served = 0;

function handle() {
  const body = Buffer.alloc(kb * 1024, 2);
  const parsed = Array.from({ length: 200 }, (_, i) => ({ i, v: body[i] }));
  served += parsed.length > 0 ? 1 : 0;
}

const timer = setInterval(handle, everyMs);
if (seconds > 0) setTimeout(() => { clearInterval(timer); }, seconds * 1000);
process.on('SIGTERM', () => process.exit(0));
