// The incidents behind memdoctor as real Node.js HTTP services under load (node's http module).
//
//   node examples/incidents/node/incidents.js KIND [--seconds N]
//
// Each KIND starts a server on 127.0.0.1 (a free port chosen by the OS) and a small load driver
// in the same process that calls it ~50 times a second; both stop after --seconds (default 300).
// KIND, and the container `memdoctor doctor` must name (see README.md in this folder):
//   dead_letter_queue  deadLetters        failed messages kept, the cap of 500 far too large
//   sse_clients        SseHub.clients     SSE clients added on connect, never pruned on close
//   dialogues          ongoingDialogues   a Map of dialogue buffers, cleaned up only after 10 min
//   batch_writer       BatchWriter.pending rows buffered while the database is down, no maximum
//   record_array       resolvedRecords    every resolved record kept
//   worker_pool        (no leak)          ~40 MB jobs in waves of 1-3: a concurrency question
'use strict';
const http = require('http');

// ~80 KiB per entry (10240 small integers in one array): the post-mortems' messages were larger,
// this keeps the leak at ~4 MiB/s so a few seconds of recording show it.
const ENTRY_NUMBERS = 10240;
const payload = (i) => new Array(ENTRY_NUMBERS).fill(i & 0xff);

const DEAD_LETTER_MAX = 500; // the incident's cap: 500 x 2 MB messages does not fit 512 MB
const deadLetters = [];
class SseHub {}
SseHub.clients = []; // every client that ever connected
const ongoingDialogues = new Map();
const DIALOGUE_TTL_MS = 10 * 60 * 1000; // the cleanup only drops dialogues older than this
class BatchWriter {}
BatchWriter.pending = []; // waits for a database that is down
const resolvedRecords = [];
let counter = 0;

const handlers = {
  dead_letter_queue(req, res) {
    if (deadLetters.length < DEAD_LETTER_MAX * 100) deadLetters.push({ attempts: 5, body: payload(counter) });
    res.end('failed');
  },
  sse_clients(req, res) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    SseHub.clients.push({ res, connected: Date.now(), sendBuffer: payload(counter) });
    res.write('data: hello\n\n');
  },
  dialogues(req, res) {
    ongoingDialogues.set(`dialogue-${counter}`, { started: Date.now(), turns: payload(counter) });
    res.end('ok');
  },
  batch_writer(req, res) {
    BatchWriter.pending.push({ row: counter, values: payload(counter) });
    res.end('queued');
  },
  record_array(req, res) {
    resolvedRecords.push({ id: counter, resolved: payload(counter) });
    res.end('resolved');
  },
  worker_pool(req, res) {
    const job = Buffer.alloc(40 * 1024 * 1024, 1); // one job's working set
    setTimeout(() => { res.end(String(job.length)); }, 400);
  },
};

function main() {
  const kind = process.argv[2];
  const handler = handlers[kind];
  if (!handler) {
    console.error(`usage: incidents.js ${Object.keys(handlers).join('|')} [--seconds N]`);
    process.exit(2);
  }
  const at = process.argv.indexOf('--seconds');
  const seconds = at > 0 ? Number(process.argv[at + 1]) : 300;
  setInterval(() => {
    const now = Date.now();
    for (const [key, d] of ongoingDialogues) if (now - d.started > DIALOGUE_TTL_MS) ongoingDialogues.delete(key);
  }, 60000).unref();
  const server = http.createServer((req, res) => { counter += 1; handler(req, res); });
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const call = () => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: kind === 'sse_clients' ? false : agent },
        (res) => {
          if (kind === 'sse_clients') { res.once('data', () => req.destroy()); return; }
          res.resume();
        });
      req.on('error', () => {});
    };
    if (kind === 'worker_pool') {
      // waves of 1-3 jobs every 1.5 s
      let wave = 0;
      setInterval(() => { wave += 1; for (let j = 0; j < 1 + (wave % 3); j++) call(); }, 1500);
    } else {
      setInterval(call, 20);
    }
    setTimeout(() => process.exit(0), seconds * 1000).unref();
  });
}

main();
