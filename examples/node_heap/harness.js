// Drives the leak examples of this folder, either on a timer or from commands on stdin.
//
//   node EXAMPLE.js                 one tick every 100 ms, forever (like a service under load)
//   node EXAMPLE.js --every 20      one tick every 20 ms
//   node EXAMPLE.js --manual        ticks only when told, on stdin, one command a line:
//       tick N        run N ticks now
//       grow-to MB    run ticks until the used heap reaches MB megabytes
//       block S       keep the main thread in one native synchronous call for S seconds (a child
//                     process run with spawnSync, as a slow request might): the inspector's
//                     protocol calls wait for it (JS loops and Atomics.wait let them through)
//     each command answers one line on stdout: "ok TICKS_SO_FAR HEAP_USED_BYTES".
//   --kb N          size of what one leaked entry holds (default 8)
//
// A tick is one "request" of the example: it leaks one entry and grows the decoy by several
// tiny entries (more entries than the leak, far fewer bytes).
'use strict';

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : fallback;
}

function drive(tick) {
  const kb = option('--kb', 8);
  let ticks = 0;
  const step = () => { tick(ticks++, kb); };
  process.on('SIGTERM', () => process.exit(0));
  if (!process.argv.includes('--manual')) {
    setInterval(step, option('--every', 100));
    return;
  }
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (data) => {
    pending += data;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const [cmd, arg] = pending.slice(0, nl).trim().split(/\s+/);
      pending = pending.slice(nl + 1);
      if (cmd === 'tick') {
        for (let i = 0; i < Number(arg); i++) step();
      } else if (cmd === 'block') {
        require('child_process').spawnSync('sleep', [String(Number(arg))]);
      } else if (cmd === 'grow-to') {
        const target = Number(arg) * 1024 * 1024;
        while (process.memoryUsage().heapUsed < target) {
          for (let i = 0; i < 200; i++) step();
        }
      }
      process.stdout.write(`ok ${ticks} ${process.memoryUsage().heapUsed}\n`);
    }
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdout.write(`ready ${process.pid}\n`);
}

// What one leaked entry holds: about `kb` kilobytes of JS heap, half in an array of doubles and
// half in small objects with a short string each (many nodes, as real leaked records have).
function payload(i, kb) {
  const bytes = kb * 1024;
  const doubles = new Array(Math.max(1, Math.floor(bytes / 2 / 8))).fill(i + 0.5);
  const turns = [];
  for (let k = 0; k < Math.max(1, Math.floor(bytes / 2 / 80)); k++) turns.push({ at: k, text: `t${i}:${k}` });
  return { doubles, turns };
}

module.exports = { drive, payload };
