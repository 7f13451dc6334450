// healthy: bursts of Buffers (up to 150 MB) and big strings, all dropped; GC reclaims
let bufs = [];
setInterval(() => {
  for (let i = 0; i < 8; i++) bufs.push(Buffer.alloc(1000000, 10));
  const s = JSON.stringify(Array.from({length: 5000}, (_, i) => ({i, v: 'x'.repeat(50)})));
  if (bufs.length >= 150) bufs = [];
}, 100);
