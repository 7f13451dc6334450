"""A report job runner: every 140 s a job builds ~90 MB of intermediate rows for ~8 s, then keeps its 25 MB report
in a dict by job id, forever (nothing ever reads old reports again: a leak of one report per job)."""
import os, sys, time
KEEP_ALL = os.environ.get("KEEP", "all") == "all"
reports = {}
def job(n: int) -> bytearray:
    work = [bytearray(os.urandom(1) * (1 << 20)) for _ in range(90)]  # ~90 MiB of intermediate rows
    time.sleep(8)
    report = bytearray(25 << 20)
    report[:: 4096] = b"x" * len(report[:: 4096])
    del work
    return report
time.sleep(20)
n = 0
start = time.monotonic()
while True:
    n += 1
    r = job(n)
    if KEEP_ALL:
        reports[n] = r
    else:
        reports = {n: r}  # healthy twin: only the latest report is kept
    print(f"job {n} done, {len(reports)} reports kept", flush=True)
    time.sleep(max(0.0, 20 + 140 * n - (time.monotonic() - start) - 20))
