"""A flat service holding a 100 MB buffer; at 40 s it drops it and 10 s later builds it again (a reload).

Recorded: memdoctor run --interval 100ms --duration 90s -- python3 py_buffer_reload.py
"""

import time


def build() -> bytearray:
    buf = bytearray(100 * 1024 * 1024)
    for i in range(0, len(buf), 4096):
        buf[i] = 1  # touch every page: resident, not only reserved
    return buf


held: bytearray | None = build()
start = time.monotonic()
state = 0
while time.monotonic() - start < 200:
    t = time.monotonic() - start
    if t >= 40 and state == 0:
        held, state = None, 1
    if t >= 50 and state == 1:
        held, state = build(), 2
    time.sleep(0.05)
