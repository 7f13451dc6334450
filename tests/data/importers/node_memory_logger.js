// Preload (node -r ./node_memory_logger.js app.js) that logs process.memoryUsage() as JSON lines,
// the way services log it: {"time": <unix ms>, "rss": ..., "heapTotal": ..., "heapUsed": ..., ...}.
// MEMDOCTOR_NODE_LOG=file (required), MEMDOCTOR_NODE_LOG_MS=100 (period).
'use strict';
const fs = require('fs');
const out = fs.openSync(process.env.MEMDOCTOR_NODE_LOG, 'w');
const every = Number(process.env.MEMDOCTOR_NODE_LOG_MS || 100);
const log = () => fs.writeSync(out, JSON.stringify({ time: Date.now(), ...process.memoryUsage() }) + '\n');
log();
setInterval(log, every).unref();
