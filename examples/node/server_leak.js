// healthy_server.js's request garbage plus a slow leak: every leakMs a buffer is kept in a list for good.
// Usage: node server_leak.js [kbPerRequest=400] [everyMs=20] [kbLeaked=100] [leakMs=1000] [seconds=0 (forever)]
// The defaults leak 100 KB a second (5.9 MiB/min) under ~20 MB/s of garbage.
'use strict';

const kb = Number(process.argv[2] || 400);
const everyMs = Number(process.argv[3] || 20);
const kbLeaked = Number(process.argv[4] || 100);
const leakMs = Number(process.argv[5] || 1000);
const seconds = Number(process.argv[6] || 0);
const kept = []; // nobody ever empties it

function handle() {
  const body = Buffer.alloc(kb * 1024, 2);
  const parsed = Array.from({ length: 200 }, (_, i) => ({ i, v: body[i] }));
  return parsed.length;
}

const timers = [setInterval(handle, everyMs), setInterval(() => kept.push(Buffer.alloc(kbLeaked * 1024, 3)), leakMs)];
if (seconds > 0) setTimeout(() => timers.forEach(clearInterval), seconds * 1000);
process.on('SIGTERM', () => process.exit(0));
