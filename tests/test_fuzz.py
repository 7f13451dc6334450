"""Fuzzing every reader and parser: any input gives a result or a one-line error, never a crash.

Inputs that once failed are kept in tests/data/fuzz/ and replayed here.
"""

from __future__ import annotations

import json
import math
import os
import string
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from memdoctor.analysis import diagnose
from memdoctor.traces import TraceReadError, read_trace
from memdoctor.units import UnitError, parse_duration, parse_rate, parse_size

from .conftest import DATA, assert_one_line_error, cli_env, memdoctor

# No deadline: a wall-clock bound fails on a loaded machine, not on a bug (speed is for benchmarks/).
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CORPUS = DATA / "fuzz"


def _read_bytes(data: bytes, suffix: str = ".trace"):
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as fh:
        fh.write(data)
        path = fh.name
    try:
        return read_trace(path)
    finally:
        os.unlink(path)


def _check_trace(trace) -> None:
    assert len(trace.t) == len(trace.rss) > 0
    assert np.isfinite(trace.t).all() and np.isfinite(trace.rss).all() and (trace.rss >= 0).all()
    for series in trace.series.values():
        assert len(series) == len(trace.t)


@FUZZ
@given(st.binary(max_size=4096))
def test_any_bytes(data):
    try:
        _check_trace(_read_bytes(data))
    except TraceReadError:
        pass


TIME_HEADERS = ["timestamp", "time", "t", "elapsed", "Time (s)", "timestamp_ms", "ts"]
MEM_HEADERS = ["rss_bytes", "rss", "memory", "mem_mb", "rss_kb", "Memory (MB)", "usage"]
cells = st.one_of(
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NaN", "inf", "-0", "1e308", "1e-308", "512MB", "1.5 GiB", "12parsecs",
                     "2026-11-23T10:00:00Z", "2026-13-45T99:99:99", '"quoted"', "0x10", "١٢٣"]),
    st.text(alphabet=string.printable, max_size=12),
)


@FUZZ
@given(st.sampled_from(TIME_HEADERS), st.sampled_from(MEM_HEADERS), st.sampled_from([",", "\t", ";"]),
       st.lists(st.lists(cells, min_size=0, max_size=4), max_size=40), st.booleans())
@example("timestamp", "mem_mb", ",", [["0", "1e308", "0"]], False)  # finite in MB, infinite in bytes
def test_csv_rows(time_col, mem_col, sep, rows, crlf):
    newline = "\r\n" if crlf else "\n"
    text = sep.join([time_col, mem_col, "fds"]) + newline
    text += newline.join(sep.join(row) for row in rows) + newline
    try:
        _check_trace(_read_bytes(text.encode(), ".csv"))
    except TraceReadError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)
sample_like = st.fixed_dictionaries(
    {}, optional={"t": st.one_of(st.floats(), st.integers(), st.text(max_size=3)),
                  "rss": st.one_of(st.floats(), st.integers(-5, 2**66), st.none(), st.text(max_size=3)),
                  "fds": json_values, "event": json_values, "memdoctor_trace": st.integers(0, 2)})


@FUZZ
@given(st.lists(st.one_of(sample_like, json_values), max_size=60), st.booleans(), st.integers(0, 30))
def test_jsonl_lines(objects, with_header, cut):
    lines = ([json.dumps({"memdoctor_trace": 1, "limit_bytes": "lots"})] if with_header else [])
    lines += [json.dumps(o, allow_nan=True) for o in objects]
    data = ("\n".join(lines)).encode()
    if cut and len(data) > cut:
        data = data[:-cut]
    try:
        _check_trace(_read_bytes(data, ".jsonl"))
    except TraceReadError:
        pass


@FUZZ
@given(st.text(max_size=24))
def test_unit_parsers(text):
    for parse in (parse_size, parse_duration, parse_rate):
        try:
            value = parse(text)
        except UnitError:
            continue
        assert math.isfinite(value) and value >= 0


@FUZZ
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True, width=64),
                          st.floats(allow_nan=True, allow_infinity=True, width=64)), max_size=300),
       st.one_of(st.none(), st.integers(-5, 2**40)))
@example(points=[(1.7976931348623157e308, 0.0), (-9.9792015476736e291, 0.0)], limit=None)  # span overflows to inf
def test_diagnose_never_raises(points, limit):
    t = np.asarray([p[0] for p in points], dtype=float)
    mem = np.asarray([p[1] for p in points], dtype=float)
    d = diagnose(t, mem, limit_bytes=limit)
    out = d.to_dict()
    assert out["verdict"] in ("leak", "no-leak", "inconclusive")
    json.dumps(out, allow_nan=False)  # the JSON contract: no NaN or Infinity


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=2048), suffix=st.sampled_from([".csv", ".jsonl", ".txt"]))
def test_cli_on_random_files(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"input{suffix}"
    path.write_bytes(data)
    proc = memdoctor("analyze", str(path), "--json")
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:
        json.loads(proc.stdout)
    else:
        assert_one_line_error(proc)


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*") if p.is_file() and p.name != "README.md")


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_corpus(path):
    """Inputs that once broke a reader: each still gives a result or a one-line error."""
    proc = memdoctor("analyze", str(path), "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 0:
        json.loads(proc.stdout)
    else:
        assert_one_line_error(proc)


@pytest.mark.integration
def test_100mb_of_junk_stays_bounded(tmp_path):
    """A 100 MB file of junk rows: one line, exit 2, and memdoctor's memory stays far below it."""
    path = tmp_path / "junk.csv"
    line = (string.ascii_letters + ",;: 0123456789" * 3)[:99] + "\n"
    with path.open("w") as fh:
        fh.write("timestamp,rss_bytes\n")
        block = line * 10_000
        for _ in range(106):
            fh.write(block)
    assert path.stat().st_size >= 100_000_000
    # A small wrapper process runs memdoctor and reports its children's peak RSS (forking from
    # pytest itself would count pytest's pages shared before the exec).
    wrapper = ("import resource, subprocess, sys\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "sys.stderr.write(p.stderr)\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(p.returncode)\n")
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "memdoctor", "analyze", str(path)],
                          capture_output=True, text=True, env=cli_env(), timeout=300)
    assert_one_line_error(proc)
    peak_mib = int(proc.stdout.split()[-1]) / 1024
    assert peak_mib < 300, f"analyze took {peak_mib:.0f} MiB on a 100 MB junk file"
