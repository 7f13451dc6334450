# pricing service: holds a ~140 MB reference table (numpy), serves ~10 lookups/s;
# each lookup appends a ~680-byte audit record to a module-level list that is bounded
# rotated (deque maxlen=200) -> healthy twin, flat ~150 MB.
import time, numpy as np
table = np.arange(140 * 1024 * 1024 // 8, dtype=np.float64)   # ~140 MB, touched
import collections
audit = collections.deque(maxlen=200)   # bounded: healthy twin
i = 0
while True:
    idx = (i * 7919) % table.size
    price = float(table[idx]) * 1.07
    audit.append(f"{time.time():.6f} lookup id={idx} price={price:.2f} ".ljust(640, "."))
    i += 1
    time.sleep(0.1)
