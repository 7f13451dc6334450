# tiny load generator: waits for port file, then GETs at a fixed rate with unique ids
import sys, time, os, threading, http.client, itertools
portfile, rate, duration = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
path = sys.argv[4] if len(sys.argv) > 4 else "/item?id={i}"
t0 = time.time()
while not os.path.exists(portfile) or not open(portfile).read().strip():
    time.sleep(0.05)
    if time.time() - t0 > 30: sys.exit("no port")
port = int(open(portfile).read().strip())
counter = itertools.count()
ok = err = 0
def worker(nthreads):
    global ok, err
    conn = None
    interval = nthreads / rate
    nxt = time.time()
    while time.time() - t0 < duration:
        i = next(counter)
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path.format(i=i))
            r = conn.getresponse(); r.read()
            ok += 1
            if r.getheader("Connection", "").lower() == "close": conn.close(); conn = None
        except Exception:
            err += 1; conn = None; time.sleep(0.2)
        nxt += interval
        d = nxt - time.time()
        if d > 0: time.sleep(d)
N = 4
ts = [threading.Thread(target=worker, args=(N,), daemon=True) for _ in range(N)]
for t in ts: t.start()
for t in ts: t.join()
print(f"loadgen {portfile}: ok={ok} err={err}", file=sys.stderr)
