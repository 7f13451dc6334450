# load generator: python3 load.py PORT RATE SECONDS PATH   (PATH may contain {i} and {r})
import sys, time, http.client, random, threading
port, rate, secs, path = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
# wait for server
t0 = time.time()
while time.time() - t0 < 30:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2); c.request("GET", "/"); c.getresponse().read(); c.close(); break
    except Exception:
        time.sleep(0.2)
nthreads = 4
ok = err = 0
lock = threading.Lock()
start = time.time()
def worker(k):
    global ok, err
    i = k
    conn = None
    per = rate / nthreads
    nxt = time.time()
    while time.time() - start < secs:
        p = path.format(i=i, r=random.randrange(10**9))
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", p); r = conn.getresponse(); r.read()
            if r.getheader("Connection", "").lower() == "close" or r.version == 10:
                conn.close(); conn = None
            with lock: ok += 1
        except Exception:
            with lock: err += 1
            try: conn.close()
            except Exception: pass
            conn = None
        i += nthreads
        nxt += 1 / per
        d = nxt - time.time()
        if d > 0: time.sleep(d)
ts = [threading.Thread(target=worker, args=(k,)) for k in range(nthreads)]
[t.start() for t in ts]; [t.join() for t in ts]
print(f"load done: ok={ok} err={err} in {time.time()-start:.0f}s", flush=True)
