// a job runner that keeps each finished job's ~10 MB of result objects by job id, one job every 7 s (leak, step)
const results = new Map();
let job = 0;
function run() {
  job++;
  const rows = [];
  for (let i = 0; i < 60000; i++) rows.push({ job, i, label: 'row-' + i + '-' + 'x'.repeat(60) });
  results.set(job, rows);
  setTimeout(run, 7000);
}
setInterval(() => { const g = new Array(1000).fill(Math.random()); }, 10);
run();
