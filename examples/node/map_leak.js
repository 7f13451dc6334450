// Dialogue buffers stored in a module-level Map that is never pruned: the classic Node leak.
// Usage: node map_leak.js [kbPerDialogue=200] [everyMs=50] [seconds=0 (forever)]
'use strict';

const ongoingDialogues = new Map(); // keyed by dialogue id; nobody ever deletes an entry

const kb = Number(process.argv[2] || 200);
const everyMs = Number(process.argv[3] || 50);
const seconds = Number(process.argv[4] || 0);
let next = 0;

function onMessage() {
  const id = `dlg-${next++}`;
  ongoingDialogues.set(id, { started: Date.now(), buffer: Buffer.alloc(kb * 1024, 1), turns: [] });
}

const timer = setInterval(onMessage, everyMs);
if (seconds > 0) setTimeout(() => { clearInterval(timer); }, seconds * 1000);
process.on('SIGTERM', () => process.exit(0));
