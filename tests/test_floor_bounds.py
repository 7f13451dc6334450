"""A floor lies between the lowest and the highest memory of its series, on every bundled input.

`floor_start_bytes` and `floor_end_bytes` (analyze --json, the report, the forecast's starting
level) are levels of the memory floor: under every sample at its time, so never above the series'
peak, and made of measured minima, so never below its lowest sample. The mprof copy of
rw_py_lru_unbounded reported a floor 15 KB above its peak: mprof's reading of the exited process
(0 MiB) was taken as a restart, and the floor was the fitted line of the lifetime before it, at its end.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memdoctor.analysis.engine import diagnose
from memdoctor.commands.common import judge_trace
from memdoctor.traces.reader import read_trace, read_traces

from .conftest import ROOT

SUFFIXES = (".jsonl", ".csv", ".dat", ".txt", ".json")
SKIP_DIRS = {"fuzz"}  # deliberately broken inputs: test_fuzz.py
LRU_MPROF = ROOT / "benchmarks" / "classifier" / "recordings" / "rw_py_lru_unbounded.mprof.dat"


def _inputs() -> list[Path]:
    """Every memory recording bundled: sample traces, test data (the dev traces among them), the benchmark's."""
    found = []
    for base in (ROOT / "sample_traces", ROOT / "tests" / "data", ROOT / "benchmarks"):
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES and not path.name.startswith("README") \
                    and not SKIP_DIRS & set(path.parts):
                found.append(path)
    return found


def _series(path: Path) -> list:
    try:
        return read_traces(str(path))
    except Exception:  # not a recording (labels, snapshot notes, a Prometheus error sample): not this test's
        return []


INPUTS = [p for p in _inputs() if _series(p)]


def test_the_bundled_inputs_are_found() -> None:
    names = {p.name for p in INPUTS}
    assert len(INPUTS) >= 60, names
    assert {"rw_py_lru_unbounded.mprof.dat", "leak.mprof.dat", "py_step_jobs.csv", "node_map_leak.jsonl"} <= names


@pytest.mark.parametrize("path", INPUTS, ids=[str(p.relative_to(ROOT)) for p in INPUTS])
def test_every_floor_lies_between_the_lowest_and_the_highest_memory(path: Path) -> None:
    for trace in _series(path):
        d = judge_trace(trace, "rss", str(path), None)  # what analyze judges
        rss = np.asarray(trace.rss, dtype=float)
        rss = rss[np.isfinite(rss) & (rss >= 0)]
        low, peak = float(rss.min()), float(rss.max())
        assert d.peak_bytes == peak
        for name in ("floor_start_bytes", "floor_end_bytes"):
            value = getattr(d, name)
            assert value is None or low <= value <= peak, (trace.header.get("name"), name, value, low, peak,
                                                           d.verdict, d.pattern, d.restarts)


def test_mprofs_reading_of_the_exited_process_is_no_sample() -> None:
    """mprof's last MEM line (0.000000: the process had exited) is no restart to 0 B: the three recorders of
    the same run (memdoctor, psrecord, mprof) give the same floor growth, and the mprof copy's last sample is
    its peak."""
    trace = read_trace(str(LRU_MPROF))
    assert LRU_MPROF.read_text().splitlines()[-1].startswith("MEM 0.000000 ")
    assert float(trace.rss[-1]) == float(trace.rss.max()) > 80 * 2**20
    assert any("0 MiB" in w and "exited" in w for w in trace.warnings)
    d = judge_trace(trace, "rss", str(LRU_MPROF), None)
    assert d.restarts == 0 and d.last_bytes == d.peak_bytes
    assert d.floor_end_bytes is not None and d.floor_end_bytes <= d.peak_bytes
    others = [judge_trace(read_trace(str(LRU_MPROF.with_name(name))), "rss", name, None)
              for name in ("rw_py_lru_unbounded.jsonl", "rw_py_lru_unbounded.psrecord.txt")]
    for other in others:
        assert d.growth_bytes_per_s == pytest.approx(other.growth_bytes_per_s, rel=0.002)


def test_mprof_zeros_followed_by_memory_stay_and_a_file_of_zeros_is_an_error(tmp_path: Path) -> None:
    from memdoctor.traces import TraceReadError

    path = tmp_path / "x.dat"
    path.write_text("CMDLINE x\nMEM 10.0 1.0\nMEM 0.000000 1.1\nMEM 10.5 1.2\nMEM 0.000000 1.3\nMEM 0.000000 1.4\n")
    trace = read_trace(str(path))
    assert list(trace.rss / 2**20) == [10.0, 0.0, 10.5]  # only the zeros that end the file are the exit
    assert any(w.startswith("the last 2 samples read 0 MiB") for w in trace.warnings)
    path.write_text("CMDLINE x\nMEM 0.000000 1.0\nMEM 0.000000 1.1\n")
    with pytest.raises(TraceReadError, match="every MEM line reads 0 MiB"):
        read_trace(str(path))


def test_a_steady_leak_restarted_at_the_end_keeps_its_floor_under_its_peak(tmp_path: Path) -> None:
    """The same climb with a recorded restart at its last sample (memdoctor's own trace of a process restarted
    by its supervisor): the classifier's floor is its fitted line at the end of the lifetime before the restart,
    which lay 15 KB above every sample there (no sawtooth: the floor is the memory itself)."""
    rows = np.array([ln.split()[1:3] for ln in LRU_MPROF.read_text().splitlines() if ln.startswith("MEM ")],
                    dtype=float)
    rows = rows[rows[:, 0] > 0]  # the climb alone, whatever the importer makes of mprof's last line
    t, rss = rows[:, 1] - rows[0, 1], rows[:, 0] * 2**20
    lines = [json.dumps({"memdoctor_trace": 1, "interval_s": 0.1})]
    lines += [json.dumps({"t": float(a), "rss": float(b)}) for a, b in zip(t, rss, strict=True)]
    lines.append(json.dumps({"t": float(t[-1]) + 0.1, "rss": 31e6, "event": "restart"}))
    path = tmp_path / "restarted.jsonl"
    path.write_text("\n".join(lines) + "\n")
    d = judge_trace(read_trace(str(path)), "rss", str(path), None)
    assert d.restarts == 1 and d.verdict == "leak"
    assert d.floor_end_bytes is not None and d.floor_end_bytes <= float(rss.max())
    # The same bound straight from the one diagnosis, without a restart: a floor is never above the memory.
    plain = diagnose(t, rss)
    assert plain.floor_end_bytes is not None and plain.floor_end_bytes <= plain.peak_bytes
