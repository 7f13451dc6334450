# Batch worker: every 6 s a job streams 40 x 1 MiB buffers over ~4 s, reduces them to a checksum,
# and drops them (only the small checksum is kept) -> sawtooth, no growth.
import time, hashlib
sums = []
while True:
    bufs = []
    for i in range(40):
        bufs.append(bytearray(b"x" * (1 << 20)))
        time.sleep(0.1)
    h = hashlib.sha1()
    for b in bufs: h.update(b)
    sums = (sums + [h.hexdigest()])[-100:]
    del bufs
    time.sleep(2)
