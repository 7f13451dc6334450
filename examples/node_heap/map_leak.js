// Leak: dialogues stored in a module-level Map that nobody prunes (the incidents' classic).
// Decoy: a module-level Set of message numbers that gains 8 entries a tick, 20-30 bytes each.
// Usage: see harness.js (node map_leak.js [--manual] [--every MS] [--kb N]).
'use strict';
const { drive, payload } = require('./harness');

// A planted secret: it is a Map key and a value in the heap; memdoctor must never print it.
const SECRET = ['memdoctor', 'planted', 'secret', '7f3a9c'].join('-');

const ongoingDialogues = new Map(); // dialogue id -> dialogue state; entries are never deleted
const seenMessageNumbers = new Set(); // decoy
let messageNumber = 0;

function onMessage(i, kb) {
  const id = i === 0 ? SECRET : `dlg-${i}-${(i * 2654435761) % 1000003}`;
  ongoingDialogues.set(id, { id, startedAt: Date.now(), turns: [payload(i, kb)], token: SECRET });
  for (let k = 0; k < 8; k++) seenMessageNumbers.add(messageNumber++);
}

drive(onMessage);
