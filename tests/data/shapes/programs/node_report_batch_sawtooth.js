// Billing service: every 15 s a report job is started in a fresh worker thread
// (so the main event loop stays responsive); the worker pages ~1M rows (10 pages
// of 100k row objects, one page every 300 ms, ~100+ MB of JS heap), aggregates
// them, posts the totals back and exits -- its whole isolate heap is freed.
// HEALTHY, SAWTOOTH (teeth of ~120 MB every 15 s).
const { Worker, isMainThread, parentPort } = require('worker_threads');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (!isMainThread) {
  (async () => {
    const rows = [];
    for (let page = 0; page < 10; page++) {
      for (let i = 0; i < 100_000; i++) rows.push({ acct: i % 5000, amount: Math.random() * 100, day: (page * 7 + i) % 31 });
      await sleep(300);
    }
    const byDay = new Array(31).fill(0);
    for (const r of rows) byDay[r.day] += r.amount;
    await sleep(1500);                               // write the report out
    parentPort.postMessage(byDay);
    process.exit(0);
  })();
} else {
  const T0 = Date.now();
  let reports = 0;
  const runReport = () => {
    const w = new Worker(__filename);
    w.on('message', () => { reports++; });
    w.on('error', () => {});
  };
  setTimeout(() => { runReport(); setInterval(runReport, 15000); }, 4000);
  setInterval(() => {
    if (Date.now() - T0 > 120000) process.exit(0);
    const tmp = Array.from({ length: 50 }, (_, i) => ({ i }));
    return tmp.length;
  }, 50);
}
