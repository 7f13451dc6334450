"""Trace writers and readers: the JSONL contract, the generic CSV import, cut-off files."""

import io
import json
import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from memdoctor.traces import TraceReadError, read_trace
from memdoctor.traces.accumulate import SampleAccumulator
from memdoctor.traces.reader import detect_format
from memdoctor.traces.writer import CsvTraceWriter, JsonlTraceWriter, TraceWriteError, open_trace_writer

from .conftest import DATA, cli_env


def _write_jsonl(path, n=50, header=None):
    writer = JsonlTraceWriter(str(path))
    writer.write_header(header or {"pid": 1, "interval_s": 1.0, "limit_bytes": 512 * 1024**2})
    for i in range(n):
        writer.write_sample({"t": float(i), "rss": 1_000_000 + 1000 * i, "rss_root": 900_000, "procs": 2,
                             **({"fds": 7} if i % 5 == 0 else {})})
    writer.close()


def test_jsonl_roundtrip_and_mode(tmp_path):
    path = tmp_path / "t.jsonl"
    _write_jsonl(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = json.loads(path.read_text().splitlines()[0])
    assert first["memdoctor_trace"] == 1
    trace = read_trace(str(path))
    assert len(trace) == 50 and trace.limit_bytes == 512 * 1024**2
    assert trace.rss[-1] == 1_000_000 + 49_000
    assert np.isnan(trace.series["fds"][1]) and trace.series["fds"][5] == 7
    assert trace.series["procs"][0] == 2


def test_jsonl_cut_mid_line_keeps_what_was_complete(tmp_path):
    path = tmp_path / "t.jsonl"
    _write_jsonl(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 15])  # cut inside the last sample
    trace = read_trace(str(path))
    assert len(trace) == 49
    assert any("cut off" in w for w in trace.warnings)
    assert trace.skipped_rows == 0


def test_jsonl_junk_lines_counted(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"memdoctor_trace":1}\n{"t":0,"rss":5}\nnot json\n{"t":1,"rss":-3}\n{"t":2,"rss":"x"}\n'
                    '{"t":3,"rss":7}\n[1,2]\n{"t":4,"event":"oom_kill"}\n')
    trace = read_trace(str(path))
    assert list(trace.rss) == [5, 7]
    assert trace.skipped_rows == 4
    assert trace.events == [(4.0, "oom_kill")]


def test_csv_writer_roundtrip(tmp_path):
    path = tmp_path / "t.csv"
    writer = open_trace_writer(str(path))
    assert isinstance(writer, CsvTraceWriter)
    writer.write_header({"pid": 3, "limit_bytes": 1024**3})
    for i in range(30):
        writer.write_sample({"t": i * 0.5, "rss": 2_000_000 + i, "rss_root": 2_000_000, "procs": 1, "fds": 4})
    writer.close()
    trace = read_trace(str(path))
    assert len(trace) == 30 and trace.limit_bytes == 1024**3
    assert trace.t[-1] == pytest.approx(14.5)
    assert trace.series["fds"][0] == 4


@pytest.mark.parametrize(("text", "rss0", "t1"), [
    ("timestamp,rss_bytes,fds\n1795433693.5,1000,3\n1795433694.5,2000,4\n", 1000, 1.0),
    ("time,mem_mb\n0,1.5\n2,2\n", 1.5 * 1024**2, 2.0),
    ("elapsed\trss_kb\n0\t10\n0.5\t20\n", 10 * 1024, 0.5),
    ("t;memory\n0;100MB\n1;1.5 GiB\n", 100 * 1024**2, 1.0),
    ("timestamp,memory\n2026-11-23T10:00:00Z,5MiB\n2026-11-23T10:00:30Z,6MiB\n", 5 * 1024**2, 30.0),
    ("Time (s),Memory (MB)\n0,10\n1,11\n", 10 * 1024**2, 1.0),
    ("timestamp_ms,rss\n1795433693500,1000\n1795433694500,1000\n", 1000, 1.0),
])
def test_csv_variants(tmp_path, text, rss0, t1):
    path = tmp_path / "in.csv"
    path.write_text(text)
    trace = read_trace(str(path))
    assert trace.rss[0] == pytest.approx(rss0)
    assert trace.t[0] == 0 and trace.t[1] == pytest.approx(t1)


def test_csv_junk_rows_skipped_and_counted(tmp_path):
    path = tmp_path / "in.csv"
    rows = ["timestamp,rss_bytes"] + [f"{i},{1000 + i}" for i in range(100)]
    rows[10] = "garbage"
    rows[20] = "5,NaN"
    rows[30] = "x,12"
    rows[40] = "7,-12"
    path.write_text("\n".join(rows) + "\n")
    trace = read_trace(str(path))
    assert len(trace) == 96 and trace.skipped_rows == 4


def test_csv_without_columns_is_an_error(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(TraceReadError, match="no time column"):
        read_trace(str(path))


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\x00\x01\x02binary", b"just some words\n"])
def test_unreadable_inputs(tmp_path, content):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(TraceReadError):
        read_trace(str(path))


def test_missing_and_directory(tmp_path):
    with pytest.raises(TraceReadError, match="no such file"):
        read_trace(str(tmp_path / "nope.jsonl"))
    with pytest.raises(TraceReadError, match="directory"):
        read_trace(str(tmp_path))


def test_detect_format():
    assert detect_format('{"memdoctor_trace": 1}\n') == "jsonl"
    assert detect_format("timestamp,rss_bytes\n1,2\n") == "csv"
    assert detect_format("# memdoctor_trace {}\nt,rss\n") == "csv"
    assert detect_format("hello world") is None


@pytest.mark.integration
def test_stdin(tmp_path):
    path = tmp_path / "t.jsonl"
    _write_jsonl(path, n=30)
    code = "from memdoctor.traces import read_trace; print(len(read_trace('-')))"
    out = subprocess.run([sys.executable, "-c", code], stdin=path.open("rb"), capture_output=True, text=True,
                         env=cli_env(), check=True)
    assert out.stdout.strip() == "30"


def test_accumulator_thins_but_keeps_floor_and_peak():
    acc = SampleAccumulator((), max_points=1000)
    t = np.arange(10_000, dtype=float)
    m = 1e6 + 1e3 * np.sin(t / 7.0) + t
    m[5000] = 9e9  # a peak
    m[7000] = 1.0  # a trough
    for start in range(0, len(t), 777):
        acc.add(t[start:start + 777], m[start:start + 777])
    tt, mm, _ = acc.arrays()
    assert acc.thinned and len(tt) <= 2000 and acc.rows_read == 10_000
    assert mm.max() == 9e9 and mm.min() == 1.0
    assert np.all(np.diff(tt) > 0)


def test_writer_refuses_directory_and_missing_parent(tmp_path):
    with pytest.raises(TraceWriteError, match="directory"):
        JsonlTraceWriter(str(tmp_path))
    with pytest.raises(TraceWriteError):
        JsonlTraceWriter(str(tmp_path / "no" / "such" / "dir.jsonl"))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_writer_disk_full_is_a_clear_error():
    writer = JsonlTraceWriter("/dev/full")
    with pytest.raises(TraceWriteError, match="disk is full"):
        writer.write_sample({"t": 0.0, "rss": 1})
    writer.close()


def test_dev_traces_are_readable():
    folder = DATA / "dev_traces"
    if not folder.is_dir():
        pytest.skip("tests/data/dev_traces is not present")
    for path in sorted(folder.glob("*_*.csv")):
        trace = read_trace(str(path))
        assert len(trace) >= 800 and "fds" in trace.series, path.name
        assert trace.skipped_rows == 0


def test_stream_reader_accepts_file_objects():
    trace_bytes = b'{"memdoctor_trace":1}\n' + b"".join(b'{"t":%d,"rss":%d}\n' % (i, 100 + i) for i in range(25))
    from memdoctor.traces.jsonl_reader import read_jsonl_trace
    trace = read_jsonl_trace(io.BytesIO(trace_bytes))
    assert len(trace) == 25


def test_csv_integer_columns_read_fast_and_a_later_fraction_still_counts(tmp_path):
    """Columns whose first row is an integer are parsed as int64; a fraction further down in the
    same block (or a value past int64) makes that block read again as floats, nothing lost."""
    rows = ["timestamp,rss_bytes,fds"] + [f"{1795433693 + i},{1000 + i},{i % 7}" for i in range(500)]
    rows[300] = "1795433993.25,1299.5,6"
    rows[400] = f"1795434093,1400,{2**64}"  # wider than int64 (in a count: memory that large is no sample)
    path = tmp_path / "ints.csv"
    path.write_text("\n".join(rows) + "\n")
    trace = read_trace(str(path))
    assert trace.samples_read == 500 and trace.skipped_rows == 0
    assert trace.rss[298] == 1298 and trace.rss[299] == 1299.5 and trace.rss[399] == 1400
    assert trace.series["fds"][399] == float(2**64)
    assert trace.t[299] == 300.25 and trace.t[-1] == 499.0
    assert list(trace.series["fds"][:8]) == [0, 1, 2, 3, 4, 5, 6, 0]


def test_memory_readings_no_process_can_have_are_not_samples(tmp_path):
    """1e30 bytes is no measurement (traces.model.MAX_MEMORY_BYTES, 2**57): a trace of them read "leak,
    909494701772928256.0 TiB/s" and `compare` exited 0 on it. Such samples are skipped and counted; a file
    of nothing else is one line and exit 2."""
    from .conftest import assert_one_line_error, memdoctor

    mixed = tmp_path / "mixed.jsonl"
    lines = ['{"memdoctor_trace":1}'] + [f'{{"t":{i},"rss":{(1e30 if i % 10 == 3 else 50e6 + i)}}}' for i in range(60)]
    mixed.write_text("\n".join(lines) + "\n")
    trace = read_trace(str(mixed))
    assert len(trace.t) == 54 and trace.skipped_rows == 6 and trace.rss.max() < 1e9
    huge = tmp_path / "huge.csv"
    huge.write_text("t,rss\n" + "".join(f"{i},{1e30 * (1 + i)}\n" for i in range(40)))
    assert_one_line_error(memdoctor("analyze", str(huge)))
    assert_one_line_error(memdoctor("compare", str(mixed), str(huge)))


def test_a_trace_still_being_written_says_so_and_its_half_line_is_no_interruption(tmp_path):
    """A trace read while its writer still records is the diagnosis so far, and its last line may be the one being
    written: it said "the last line was cut off (recording interrupted?)" of a recording going on, and nothing at all
    of a whole one (traces/recording_lock.py). Closed, the same file reads as a finished recording."""
    from memdoctor.analysis import diagnose_trace
    from memdoctor.traces.recording_lock import STILL_RECORDING

    path = tmp_path / "live.jsonl"
    writer = JsonlTraceWriter(str(path))
    writer.write_header({"pid": 1, "interval_s": 1.0})
    for i in range(40):
        writer.write_sample({"t": float(i), "rss": 100 * 1024**2 + 1024**2 * i})
    writer.write_bytes(b'{"t":40.0,"rss":1')  # the line being written
    trace = read_trace(str(path))
    assert trace.warnings[0] == STILL_RECORDING and not any("cut off" in w for w in trace.warnings), trace.warnings
    assert STILL_RECORDING in diagnose_trace(trace).evidence
    writer.close()
    done = read_trace(str(path))
    assert STILL_RECORDING not in done.warnings and any("cut off" in w for w in done.warnings), done.warnings


@pytest.mark.integration
def test_analyze_of_a_recording_in_progress_says_it_is_the_diagnosis_so_far(tmp_path):
    """A real `memdoctor run` recording a real child: `analyze` of its trace while it records says so; after the run
    ends it does not."""
    from .conftest import memdoctor, memdoctor_popen

    path = tmp_path / "rec.jsonl"
    gate = tmp_path / "go"
    child = (f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.05)\n")
    proc = memdoctor_popen("run", "--interval", "50ms", "-o", str(path), "--", sys.executable, "-c", child)
    try:
        while not (path.exists() and path.read_bytes().count(b"\n") > 20):  # polling until 20 samples
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        during = memdoctor("analyze", str(path), "--json", check_code=0)
        assert any("still being recorded" in e for e in json.loads(during.stdout)["evidence"]), during.stdout
    finally:
        gate.touch()
        proc.communicate(timeout=60)
    after = memdoctor("analyze", str(path), "--json", check_code=0)
    assert not any("still being recorded" in e for e in json.loads(after.stdout)["evidence"]), after.stdout
