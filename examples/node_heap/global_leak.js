// Leak: per-request state stored as properties of the global object (`globalThis[key] = ...`, what a
// forgotten `var` at the top level of a script or a sloppy `global.x` cache does), never deleted.
// Decoy: a module-level array of request numbers that gains 12 small integers a tick.
// Usage: see harness.js (node global_leak.js [--manual] [--every MS] [--kb N]).
'use strict';
const { drive, payload } = require('./harness');

const SECRET = ['memdoctor', 'planted', 'secret', '7f3a9c'].join('-');
const requestNumbers = []; // decoy
let next = 0;

function onRequest(i, kb) {
  globalThis[i === 0 ? `session_${SECRET}` : `session_${i}`] = { token: SECRET, data: payload(i, kb) };
  for (let k = 0; k < 12; k++) requestNumbers.push(next++);
}

drive(onRequest);
