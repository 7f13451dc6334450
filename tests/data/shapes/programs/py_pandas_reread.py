"""Report loop: re-read the same ~25 MB CSV with pandas every iteration, group and
aggregate, drop the frame -> healthy (flat/sawtooth, nothing kept)."""
import os, time
import numpy as np, pandas as pd

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "orders.csv")
if not os.path.exists(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    n = 400_000; rng = np.random.default_rng(0)
    pd.DataFrame({"shop": rng.integers(0, 500, n), "sku": rng.integers(0, 20000, n),
                  "qty": rng.integers(1, 10, n), "price": rng.random(n) * 100,
                  "note": rng.choice(["ok", "late", "returned", "gift"], n)}).to_csv(path, index=False)
while True:
    df = pd.read_csv(path)
    df["total"] = df["qty"] * df["price"]
    rep = df.groupby("shop").agg(total=("total", "sum"), n=("sku", "count"))
    top = rep.sort_values("total").tail(10)
    del df, rep, top
    time.sleep(0.5)
