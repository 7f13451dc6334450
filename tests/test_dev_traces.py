"""The real development traces (recorded from Node and CPython processes) as regression tests.

They live in tests/data/dev_traces (a copy of the shared set, with its labels.csv), so the tests
run on a fresh clone. Each must get the labelled verdict and pattern.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from memdoctor.analysis import diagnose

HERE = Path(__file__).resolve().parent / "data" / "dev_traces"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "dev_traces"
DEV = HERE if (HERE / "labels.csv").exists() else SHARED


def _labels() -> list[dict[str, str]]:
    if not (DEV / "labels.csv").exists():
        return []
    with (DEV / "labels.csv").open() as fh:
        return list(csv.DictReader(fh))


def _read(name: str) -> tuple[np.ndarray, np.ndarray]:
    with (DEV / f"{name}.csv").open() as fh:
        rows = list(csv.reader(fh))[1:]
    data = np.array([[float(r[0]), float(r[1])] for r in rows if len(r) >= 2])
    return data[:, 0], data[:, 1]


LABELS = _labels()


@pytest.mark.skipif(not LABELS, reason=f"dev traces not found in {HERE} or {SHARED}")
@pytest.mark.parametrize("label", LABELS, ids=[row["trace"] for row in LABELS])
def test_dev_trace(label: dict[str, str]) -> None:
    t, mem = _read(label["trace"])
    d = diagnose(t, mem)
    expected = "leak" if label["leak"].strip() == "yes" else "no-leak"
    assert (d.verdict, d.pattern) == (expected, label["pattern"].strip()), d.evidence
    assert d.evidence
    out = d.to_dict()
    assert out["samples"] == len(t)
    if expected == "leak":
        assert out["growth_bytes_per_s"] > 0
        assert out["confidence"] >= 0.6


@pytest.mark.skipif(not LABELS, reason="dev traces not found")
def test_dev_traces_with_limit_and_shuffled() -> None:
    """The same answers with a limit, and with rows out of order (sorted back in)."""
    rng = np.random.default_rng(3)
    for label in LABELS:
        t, mem = _read(label["trace"])
        order = rng.permutation(len(t))
        d = diagnose(t[order], mem[order], limit_bytes=2 * 1024**3)
        expected = "leak" if label["leak"].strip() == "yes" else "no-leak"
        assert d.verdict == expected, (label["trace"], d.evidence)
        if expected == "leak":
            assert d.time_to_limit_s is not None and d.time_to_limit_s > 0
            lo, hi = d.time_to_limit_range_s
            assert lo <= d.time_to_limit_s <= hi
        else:
            assert d.time_to_limit_s is None
