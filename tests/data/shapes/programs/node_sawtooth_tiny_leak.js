// Recorded as node_sawtooth_tiny_leak_240s.jsonl by `memdoctor run -d 4m -- node leak_sawtooth_v2.js` (its
// memory-logging helper, which printed process.memoryUsage() every 30 s, left out here).
// Analytics loop: lots of big transient garbage each tick; a small per-tick summary is kept forever.
const summaries = [];             // kept forever; meant ~25 KB a tick, but 'k'.repeat() makes a cons string that
                                  // shares its halves: ~0.6 KB a tick retained (measured), ~0.3 MiB/min
let tick = 0;
function work() {
  tick++;
  // transient: large arrays (large-object space) + many small objects
  const samples = new Float64Array(1_500_000);           // 12 MB
  for (let i = 0; i < samples.length; i += 7) samples[i] = Math.random();
  const rows = [];
  for (let i = 0; i < 40000; i++) rows.push({ i, v: samples[i * 7 % samples.length], tag: 't' + (i % 50) });
  const big = new Array(600_000).fill(tick);              // ~5 MB, dropped
  let sum = 0; for (const r of rows) sum += r.v;
  // the leak: one summary a tick, 10 ticks/s
  summaries.push({ tick, sum, at: Date.now(), detail: 'k'.repeat(25_000 - 40) + tick });
  setTimeout(work, 100 - 0);
}
work();
