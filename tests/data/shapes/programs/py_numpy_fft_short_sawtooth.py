# Signal-processing loop: every ~1.6 s it takes two 40 MB float64 work arrays (one,
# then the other 0.5 s later), computes a spectrum summary, and frees both (mmap'ed,
# returned to the OS). Healthy short-period sawtooth.
import time, numpy as np
N = 40 * 1024 * 1024 // 8
while True:
    a = np.ones(N)
    a *= 0.5
    time.sleep(0.5)
    b = np.sqrt(a + 1.0)
    s = float(b[:4096].sum())
    time.sleep(0.5)
    del a, b
    time.sleep(0.6)
