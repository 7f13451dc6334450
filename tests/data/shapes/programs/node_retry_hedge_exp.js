// HTTP client with retries and hedging and no circuit breaker: the backend is
// down, so every call retries forever with ~1 s backoff, and on each failed
// attempt there is a 6.5% chance it also fires a hedged duplicate to another
// replica -- which itself retries forever.  New calls arrive at 20/s.
// LEAK, EXPONENTIAL (pending call chains grow ~6%/s, ~2.5 KB each).
const T0 = Date.now();
let live = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function callBackend(req) {
  await sleep(5);
  throw new Error('503 from ' + req.replica);
}

async function callWithRetry(id, replica) {
  live++;
  const req = { id, replica, payload: Array.from({ length: 40 }, (_, k) => ({ k, v: id + k })), attempts: [] };
  for (;;) {
    try { return await callBackend(req); } catch (e) {
      req.attempts.push(Date.now());
      if (req.attempts.length > 8) req.attempts.shift();
      if (Math.random() < 0.065) callWithRetry(id, replica + 1);     // hedge
      await sleep(800 + Math.random() * 400);
    }
  }
}

let n = 0;
setInterval(() => {
  const t = (Date.now() - T0) / 1000;
  if (t > 120) process.exit(0);
  while (n < Math.floor(20 * t)) callWithRetry(n++, 0);
}, 10);
