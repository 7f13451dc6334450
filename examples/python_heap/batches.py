"""A list that keeps every processed batch (the leak): appended once per batch, never trimmed.

Decoy: `_row_counts` gets one entry per row (fifty per batch) holding the same small int.
"""

_processed_batches = []  # the leak
_row_counts = []  # decoy: 50x the entries, 8 bytes each


def process_batch(n: int) -> None:
    batch = [{"sku": f"SKU-{n}-{i}", "qty": i, "line": "x" * 40} for i in range(50)]
    _processed_batches.append(batch)
    _row_counts.extend([1] * len(batch))
