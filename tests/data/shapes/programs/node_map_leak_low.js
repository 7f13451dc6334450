// leak at low rate: Map keyed by request id never deleted; 20 req/s x ~12 KB flat body (~0.25 MB/s)
const pending = new Map();
let id = 0;
setInterval(() => {
  for (let k = 0; k < 2; k++) {
    const rid = 'req-' + (id++);
    pending.set(rid, {rid, started: Date.now(), headers: {ua: 'Mozilla/5.0 ' + rid}, body: Buffer.alloc(12000, 'b').toString('latin1') + rid});
  }
  const garbage = []; for (let j = 0; j < 500; j++) garbage.push({j, s: 'g' + j});
}, 100);
