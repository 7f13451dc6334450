# 40 MB buffers built and flushed every 3 s, plus a 20 KB audit record kept every 100 ms (~12 MB/min) (leak, sawtooth)
import time
audit = []
while True:
    buf = []
    for _ in range(20):
        buf.append(bytearray(2 * 1024 * 1024))
        audit.append(("evt", bytearray(20 * 1024))) if len(buf) % 2 == 0 else None
        time.sleep(0.1)
    del buf
    for _ in range(10):
        audit.append(("evt", bytearray(20 * 1024)))
        time.sleep(0.1)
