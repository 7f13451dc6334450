# Order handler: healthy for the first 55 s (payload built and dropped). At 55 s the
# downstream pricing service starts failing; each failure is "kept for the dashboard":
# FAILED.append(sys.exc_info()) -> the traceback keeps the frame and its ~8 KB payload
# of small dicts alive forever. ~120 req/s -> ~1 MB/s leak starting at 55 s.
import sys, time, random
FAILED = []
class PricingDown(Exception): pass
def price(order, start):
    if time.monotonic() - start > 55:
        raise PricingDown("pricing timeout for %d" % order[0]["id"])
    return sum(l["qty"] * l["unit"] for l in order)
def handle(i, start):
    order = [{"id": i, "sku": "SKU-%06d" % (i * 31 + k), "qty": k % 5 + 1,
              "unit": 1.5 + k, "note": "n" * 40} for k in range(40)]   # ~8 KB
    try:
        return price(order, start)
    except PricingDown:
        FAILED.append(sys.exc_info())        # the leak: traceback -> frame -> order
        return None
start = time.monotonic(); n = 0
while True:
    due = int((time.monotonic() - start) * 120)
    for _ in range(min(due - n, 30)):
        n += 1; handle(n, start)
    n = max(n, due - 30)
    time.sleep(0.01)
