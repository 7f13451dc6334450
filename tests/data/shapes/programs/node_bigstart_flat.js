// Search node: at start-up loads its index over ~8 s -- 150 MB of posting-list Buffers
// (external memory) and ~1.2M small doc-metadata objects (V8 heap, ~100 MB) -- then serves
// ~300 queries/s that only create short-lived garbage. Nothing grows after the load.
const postings = [];
const docs = [];
let step = 0;
function loadStep() {
  // 40 steps x 200 ms = 8 s
  for (let i = 0; i < 30; i++) postings.push(Buffer.allocUnsafe(128 * 1024).fill((step * 30 + i) & 255));
  for (let i = 0; i < 30000; i++) {
    const id = step * 30000 + i;
    docs.push({ id, len: id % 977, score: (id % 101) / 101, lang: id % 3 ? 'en' : 'de' });
  }
  step++;
  if (step < 40) setTimeout(loadStep, 200);
  else serve();
}
function serve() {
  setInterval(() => {
    for (let q = 0; q < 30; q++) {
      const p = postings[(Math.random() * postings.length) | 0];
      const hits = [];
      for (let k = 0; k < 50; k++) {
        const d = docs[(Math.random() * docs.length) | 0];
        hits.push({ id: d.id, s: d.score * p[k] });
      }
      hits.sort((a, b) => b.s - a.s);
      JSON.stringify(hits.slice(0, 10));
    }
  }, 100);
}
loadStep();
