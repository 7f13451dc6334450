// Leak: every subscription adds a 'price' listener to a shared EventEmitter and never removes it.
// Decoy: a Map of tick number -> timestamp that gains 6 entries a tick.
// Usage: see harness.js (node emitter_listeners.js [--manual] [--every MS] [--kb N]).
'use strict';
const { EventEmitter } = require('events');
const { drive, payload } = require('./harness');

const SECRET = ['memdoctor', 'planted', 'secret', '7f3a9c'].join('-');

const priceFeed = new EventEmitter();
priceFeed.setMaxListeners(0);
const tickTimes = new Map(); // decoy
let n = 0;

function subscribe(i, kb) {
  const subscriber = { id: i, apiKey: SECRET, history: [payload(i, kb)] };
  priceFeed.on('price', function onPrice(price) { subscriber.history.push(price); });
  for (let k = 0; k < 6; k++) tickTimes.set(n++, k);
}

// Two listeners from the start, so the listeners are an array already in the first snapshot.
subscribe(-1, 1);
subscribe(-2, 1);
drive(subscribe);
