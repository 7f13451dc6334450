// Leak: server-sent-events clients pushed on a list at connect and never removed at disconnect.
// Decoy: an array of event ids that gains 10 small integers a tick.
// Usage: see harness.js (node sse_clients.js [--manual] [--every MS] [--kb N]).
'use strict';
const { drive, payload } = require('./harness');

const SECRET = ['memdoctor', 'planted', 'secret', '7f3a9c'].join('-');

class SseClient {
  constructor(i, kb) {
    this.id = i;
    this.connectedAt = Date.now();
    this.lastEventId = 0;
    this.authorization = `Bearer ${SECRET}`;
    this.pending = [payload(i, kb)]; // events queued for a client that has gone away
  }
}

const clients = []; // every client ever connected; the disconnect handler forgot to splice
const sentEventIds = []; // decoy
let eventId = 0;

function onConnect(i, kb) {
  clients.push(new SseClient(i, kb));
  for (let k = 0; k < 10; k++) sentEventIds.push(eventId++);
}

drive(onConnect);
