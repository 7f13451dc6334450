"""A flat service (~45 MiB) that once, at 45 s, holds a 120 MB buffer for 3 s and frees it.

A bytearray that large is its own mmap in glibc, so the free returns it to the OS: RSS spikes and comes back to
its level. Recorded: memdoctor run --interval 100ms --duration 90s -- python3 py_buffer_spike.py
"""

import time

base = [bytearray(1024) for _ in range(30000)]  # the service's own working set
start = time.monotonic()
spiked = False
while time.monotonic() - start < 200:
    if time.monotonic() - start >= 45 and not spiked:
        tmp = bytearray(120 * 1024 * 1024)
        for i in range(0, len(tmp), 4096):
            tmp[i] = 1  # touch every page: resident, not only reserved
        time.sleep(3)
        del tmp
        spiked = True
    time.sleep(0.05)
