# report service: flat ~30 MB, at t=60 s it loads a ~200 MB export file once, splits it
# into records, builds a small summary (kept, bounded) and drops everything else;
# afterwards it keeps serving from the summary.  Healthy one-off step/spike.
import sys, time, collections
PATH = sys.argv[1]
summary = {}
t0 = time.time(); loaded = False
ring = collections.deque(maxlen=1000)
while True:
    if not loaded and time.time() - t0 > 60:
        with open(PATH, "rb") as f:
            data = f.read()                  # ~200 MB
        lines = data.split(b"\n")            # ~2M small bytes objects
        for ln in lines[:50_000]:
            k = ln[:4]
            summary[k] = summary.get(k, 0) + 1
        del data, lines
        loaded = True
    ring.append(str(time.time()) * 10)       # bounded request log
    time.sleep(0.01)
