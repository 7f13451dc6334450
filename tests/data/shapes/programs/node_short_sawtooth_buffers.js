// Image thumbnailer: every 1.2 s decodes a batch into 6 x 8 MB raw pixel Buffers over
// ~0.5 s, encodes, and drops them; like many image pipelines it enables --expose-gc at
// run time and calls gc() after each batch so the frames are freed at once.
// Healthy short-period sawtooth (Buffers / external memory).
const v8 = require('v8');
v8.setFlagsFromString('--expose-gc');
const gc = require('vm').runInNewContext('gc');
let batch = null, k = 0;
function cycle() {
  batch = [];
  let i = 0;
  const t = setInterval(() => {
    batch.push(Buffer.allocUnsafe(8 * 1024 * 1024).fill(k++ & 255));
    if (++i === 6) { clearInterval(t); setTimeout(() => { batch = null; gc(); }, 150); }
  }, 80);
}
setInterval(cycle, 1200);
// a little steady heap garbage, like request handling
setInterval(() => { for (let i = 0; i < 200; i++) JSON.stringify({ i, s: 'x'.repeat(64) }); }, 50);
