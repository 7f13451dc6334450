// Leak: a cache object captured by a closure, keyed by e-mail address, with no eviction.
// Decoy: another closure's array of request numbers that gains 12 small integers a tick.
// Usage: see harness.js (node closure_cache.js [--manual] [--every MS] [--kb N]).
'use strict';
const { drive, payload } = require('./harness');

const SECRET = ['memdoctor', 'planted', 'secret', '7f3a9c'].join('-');

function makeProfileLoader() {
  const profileCache = {}; // e-mail -> profile, an object used as a map; nothing is ever evicted
  return function loadProfile(email, i, kb) {
    if (!(email in profileCache)) profileCache[email] = { email, session: SECRET, data: payload(i, kb) };
    return profileCache[email];
  };
}

function makeRequestLog() {
  const requestNumbers = []; // decoy
  let next = 0;
  return function logRequest() { for (let k = 0; k < 12; k++) requestNumbers.push(next++); };
}

const loadProfile = makeProfileLoader();
const logRequest = makeRequestLog();

function onRequest(i, kb) {
  loadProfile(i === 0 ? `${SECRET}@example.com` : `user${i}@example.com`, i, kb);
  logRequest();
}

drive(onRequest);
