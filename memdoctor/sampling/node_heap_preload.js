// memdoctor's Node.js preload (`run -- node ...` puts `--require <this file>` in NODE_OPTIONS).
//
// It reports V8's heap, used and total, to memdoctor on the file descriptor named by
// MEMDOCTOR_NODE_HEAP_FD (an unnamed file memdoctor opened with O_APPEND and passed to the command):
// one line "PID UNIX_MS USED TOTAL" after every major GC (mark-sweep-compact: the used heap is then
// what is alive) and once a second otherwise, so a service whose major GCs are rare still has a series.
// It changes nothing else: a timer that does not keep the process alive, a GC observer, no globals.
// Any failure (no such descriptor in a grandchild, a closed file) turns the reporting off silently, and
// it writes only while the descriptor is still memdoctor's unnamed file (same inode, no link): the
// program must never notice it, nor find a line of it in one of its own files.
'use strict';
(() => {
  const fd = Number(process.env.MEMDOCTOR_NODE_HEAP_FD);
  if (!Number.isInteger(fd) || fd < 3) return;
  // Functions only, no module objects, are kept by the closures below: a module object held here showed
  // in memdoctor's own heap diffs of the target as a small growing row (`v8 (Object)`, lazily built caches).
  let writeSync, fstatSync, PerformanceObserver, major, ours;
  try {
    ({ writeSync, fstatSync } = require('fs'));
    // memdoctor's file is unnamed (no link): a descriptor with that number that is anything else (the
    // program closed ours and opened its own file or socket under the same number) is never written to.
    ours = fstatSync(fd, { bigint: true });
    if (!ours.isFile() || ours.nlink !== 0n) return;
    const perf = require('perf_hooks');
    PerformanceObserver = perf.PerformanceObserver;
    major = perf.constants.NODE_PERFORMANCE_GC_MAJOR;
  } catch (_) {
    return;
  }
  let observer = null;
  let timer = null;
  function off() {
    try { if (observer) observer.disconnect(); } catch (_) { /* nothing to do */ }
    if (timer) clearInterval(timer);
    observer = null;
    timer = null;
  }
  function report() {
    try {
      const now = fstatSync(fd, { bigint: true });
      if (now.ino !== ours.ino || now.dev !== ours.dev) { off(); return; }
      const h = process.memoryUsage();
      writeSync(fd, `${process.pid} ${Date.now()} ${h.heapUsed} ${h.heapTotal}\n`);
    } catch (_) {
      off();
    }
  }
  try {
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = entry.detail ? entry.detail.kind : entry.kind;
        if (kind === major) { report(); return; }
      }
    });
    observer.observe({ entryTypes: ['gc'] });
  } catch (_) {
    observer = null;
  }
  timer = setInterval(report, 1000);
  timer.unref();
  report();
})();
