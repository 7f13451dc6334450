// a batch that reads ~60 MB into Buffers over ~1.5 s, checksums and drops them, every 4 s (healthy, sawtooth)
const crypto = require('crypto');
function batch() {
  const bufs = [];
  let n = 0;
  const t = setInterval(() => {
    bufs.push(Buffer.alloc(4 * 1024 * 1024, n++));
    if (n === 15) {
      clearInterval(t);
      const h = crypto.createHash('md5');
      for (const b of bufs) h.update(b.subarray(0, 1024));
      h.digest('hex');
      bufs.length = 0;
      setTimeout(batch, 2500);
    }
  }, 100);
}
batch();
