// express; per-request listener on a long-lived emitter. MODE=leak: never removed (LEAK); MODE=fixed: removed on finish (HEALTHY)
const path = require('path');
// needs: npm install express@5 lru-cache@11 (beside this file)
const express = require('express');
const { EventEmitter } = require('events');
const { fork } = require('child_process');
const [mode, port] = [process.argv[2], Number(process.argv[3])];
const configBus = new EventEmitter();
configBus.setMaxListeners(0);
const app = express();
app.get('/item', (req, res) => {
  const ctx = { rid: req.query.rid, vals: Array.from({ length: 150 }, (_, j) => j + 0.5) };
  const onConfig = (c) => { ctx.cfg = c; };
  configBus.on('config', onConfig);
  res.on('finish', () => { if (mode === 'fixed') configBus.off('config', onConfig); });
  res.send('ok ' + ctx.rid.length);
});
setInterval(() => configBus.emit('config', { v: Date.now() }), 5000);
app.listen(port, '127.0.0.1', () => fork(path.join(__dirname, 'loadgen_rps.js'), [String(port), '/item', '100']));
