"""Importers of other tools' recordings: real samples, format conversions, detection, bad input.

The samples in tests/data/importers/ were recorded by the real tools (mprof, psrecord, memray,
Node's process.memoryUsage(), a real Prometheus) from the example programs, with memdoctor's own
recording of the same programs beside them (tests/data/importers/record_samples.sh). Docker's
two formats are written here from memdoctor's recordings, following docker's documentation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from memdoctor.analysis import diagnose
from memdoctor.traces import TraceReadError
from memdoctor.traces.model import Trace
from memdoctor.traces.reader import detect_format, read_trace, read_traces

from .conftest import DATA, assert_one_line_error, memdoctor

SAMPLES = DATA / "importers"
MIB = 1024.0**2
LIMIT = 512 * 1024**2


def _diagnose(trace: Trace, metric: str = "rss"):
    values = trace.metric(metric)
    keep = np.isfinite(values)
    return diagnose(trace.t[keep], values[keep], limit_bytes=trace.limit_bytes)


# -- writers: the same data in every format -------------------------------------------------------
def docker_size(value: float) -> str:
    """docker's units.BytesSize: binary units, 4 significant digits ("45.39MiB")."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    i = 0
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    return f"{value:.4g}{units[i]}"


def _iso_ns(seconds: float) -> str:
    whole = int(seconds)
    stamp = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{round((seconds - whole) * 1e9):09d}Z"


def write_format(fmt: str, t: np.ndarray, rss: np.ndarray, path: Path, limit: int = LIMIT,
                 t0: float = 1795460000.0) -> Path:
    """`rss` over `t` written in `fmt` the way the tool writes it."""
    lines: list[str] = []
    if fmt == "jsonl":
        lines.append(json.dumps({"memdoctor_trace": 1, "limit_bytes": limit}))
        lines += [json.dumps({"t": round(float(a), 6), "rss": int(b)}) for a, b in zip(t, rss, strict=True)]
    elif fmt == "csv":
        lines.append("timestamp,rss_bytes")
        lines += [f"{t0 + a:.3f},{int(b)}" for a, b in zip(t, rss, strict=True)]
    elif fmt == "tsv":
        lines.append("elapsed\tmem_mb")
        lines += [f"{a:.3f}\t{b / MIB:.6f}" for a, b in zip(t, rss, strict=True)]
    elif fmt == "mprof":
        lines.append("CMDLINE python3 app.py")
        lines += [f"MEM {b / MIB:.6f} {t0 + a:.4f}" for a, b in zip(t, rss, strict=True)]
    elif fmt == "psrecord":
        lines.append("# {:12s} {:12s} {:12s} {:12s}".format(*(h.center(12) for h in (
            "Elapsed time", "CPU (%)", "Real (MB)", "Virtual (MB)"))))
        lines += [f"{a:12.3f} {0.0:12.3f} {b / MIB:12.3f} {b / MIB + 5:12.3f}" for a, b in zip(t, rss, strict=True)]
    elif fmt == "psrecord-csv":
        lines.append("elapsed_time,nproc,cpu,mem_real,mem_virtual")
        lines += [f"{a},1,0.0,{b / MIB},{b / MIB + 5}" for a, b in zip(t, rss, strict=True)]
    elif fmt == "docker-cli":
        lines += [json.dumps({"BlockIO": "0B / 0B", "CPUPerc": "1.00%", "Container": "app", "ID": "1285939c1fd3",
                              "MemPerc": f"{100 * b / limit:.2f}%", "MemUsage": f"{docker_size(b)} / "
                              f"{docker_size(limit)}", "Name": "app", "NetIO": "788B / 648B", "PIDs": "3"},
                             separators=(",", ":")) for b in rss]
    elif fmt == "docker-api":
        inactive = 3 * 1024**2
        lines += [json.dumps({"read": _iso_ns(t0 + a), "preread": _iso_ns(t0 + a - 1), "name": "/app",
                              "id": "1285939c1fd3", "pids_stats": {"current": 3},
                              "memory_stats": {"usage": int(b) + inactive, "limit": limit,
                                               "stats": {"inactive_file": inactive, "anon": int(b)}}})
                  for a, b in zip(t, rss, strict=True)]
    elif fmt == "node-memory":
        lines += [json.dumps({"time": round((t0 + a) * 1000), "rss": int(b), "heapTotal": 6500352,
                              "heapUsed": 5139560, "external": 1407011, "arrayBuffers": 10515})
                  for a, b in zip(t, rss, strict=True)]
    elif fmt == "prometheus":
        values = [[round(t0 + a, 3), str(int(b))] for a, b in zip(t, rss, strict=True)]
        doc = {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"__name__": "container_memory_working_set_bytes", "namespace": "shop", "pod": "app-0",
                        "container": "app"}, "values": values}]}}
        lines.append(json.dumps(doc, indent=1))
    else:
        raise ValueError(fmt)
    path.write_text("\n".join(lines) + "\n")
    return path


CONVERSIONS = ["jsonl", "csv", "tsv", "mprof", "psrecord", "psrecord-csv", "docker-cli", "docker-api", "node-memory",
               "prometheus"]


def write_docker_samples(directory: str) -> None:
    """tests/data/importers/docker-*.jsonl from memdoctor's recordings of the examples (8 s, 100 ms)."""
    out = Path(directory)
    leak = read_trace(str(out / "leak.memdoctor.jsonl"))
    healthy = read_trace(str(out / "healthy.memdoctor.jsonl"))
    n = min(len(leak), len(healthy))
    rows = []
    for i in range(n):  # one round per refresh: both containers, like `docker stats` prints them
        for name, trace, cid in (("api", leak, "9c76f7834ae2"), ("worker", healthy, "d1ea048f04e4")):
            value = float(trace.rss[i])
            rows.append(json.dumps({"BlockIO": "0B / 0B", "CPUPerc": "0.50%", "Container": name, "ID": cid,
                                    "MemPerc": f"{100 * value / LIMIT:.2f}%",
                                    "MemUsage": f"{docker_size(value)} / {docker_size(LIMIT)}", "Name": name,
                                    "NetIO": "1.27kB / 648B", "PIDs": "2"}, separators=(",", ":")))
    (out / "docker-stats-cli.jsonl").write_text("\n".join(rows) + "\n")
    write_format("docker-api", leak.t, leak.rss, out / "docker-api-leak.jsonl",
                 t0=datetime.fromisoformat(leak.header["started_at"].replace("Z", "+00:00")).timestamp())


# -- real recordings by the tools themselves --------------------------------------------------------
REAL = [
    ("leak.mprof.dat", "mprof", "leak"),
    ("healthy.mprof.dat", "mprof", "no-leak"),
    ("leak.psrecord.txt", "psrecord", "leak"),
    ("healthy.psrecord.txt", "psrecord", "no-leak"),
    ("leak.psrecord.csv", "psrecord", "leak"),
    ("healthy.psrecord.csv", "psrecord", "no-leak"),
    ("leak.memray.bin", "memray", "leak"),
    ("healthy.memray.bin", "memray", "no-leak"),
    ("leak.node-memory.jsonl", "node-memory", "leak"),
    ("healthy.node-memory.jsonl", "node-memory", "no-leak"),
]


@pytest.mark.parametrize(("name", "fmt", "expected"), REAL)
def test_real_recordings_agree_with_memdoctors_own(name, fmt, expected):
    path = SAMPLES / name
    assert detect_format(path.read_bytes()[:4096]) == fmt
    trace = read_trace(str(path))
    assert len(trace) >= 50 and 7.0 < trace.t[-1] < 16.0, (len(trace), trace.t[-1])
    assert 5 * MIB < np.median(trace.rss) < 500 * MIB  # units right: tens of MiB, not bytes or TiB
    kind = name.split(".")[0]
    own_name = f"{kind}.node.memdoctor.jsonl" if fmt == "node-memory" else f"{kind}.memdoctor.jsonl"
    own = _diagnose(read_trace(str(SAMPLES / own_name)))
    theirs = _diagnose(trace)
    assert own.verdict == expected
    assert theirs.verdict == own.verdict, (theirs.verdict, theirs.evidence)
    if expected == "leak" and fmt != "node-memory":
        # The same program (4 MiB/s of kept buffers), recorded on another run by another tool.
        assert theirs.growth_bytes_per_s == pytest.approx(own.growth_bytes_per_s, rel=0.15)


def test_memray_keeps_the_heap_series():
    trace = read_trace(str(SAMPLES / "leak.memray.bin"))
    heap = trace.series["heap"]
    assert heap[-1] > heap[0] + 20 * MIB  # the Python heap memray tracked grew with the kept buffers
    assert trace.header["source"] == "memray" and trace.header["runtime"] == "python"


def test_node_memory_tells_heap_from_off_heap_growth():
    traces = read_traces(str(SAMPLES / "leak.node-memory.jsonl"))
    assert len(traces) == 1
    trace = traces[0]
    assert trace.header["metrics"] == ["rss", "heap", "external", "array_buffers"]
    # map_leak.js keeps Buffers (off-heap) in a Map: external and arrayBuffers grow by ~5 MiB/s,
    # the JS heap (the Map's small entries) far less.
    off_heap = _diagnose(trace, "external")
    heap = _diagnose(trace, "heap")
    assert off_heap.verdict == "leak"
    assert off_heap.growth_bytes_per_s > 3 * MIB
    assert heap.growth_bytes_per_s < off_heap.growth_bytes_per_s / 5


def test_mprof_children_one_series_each():
    path = SAMPLES / "children.mprof.dat"
    total = read_trace(str(path))
    per_child = read_traces(str(path), "mprof-children")
    names = [tr.header["name"] for tr in per_child]
    assert names[0] == "main" and len(names) == 3 and all(n.startswith("child ") for n in names[1:])
    verdicts = sorted(_diagnose(tr).verdict for tr in per_child[1:])
    assert verdicts == ["leak", "no-leak"]  # worker 0 keeps its jobs' buffers, worker 1 frees them
    # The total is MEM (the parent alone: mprof run -M without -C) plus both children.
    last_children = sum(float(tr.rss[-1]) for tr in per_child[1:])
    assert total.rss[-1] == pytest.approx(float(per_child[0].rss[-1]) + last_children, rel=0.05)
    assert np.nanmax(total.series["procs"]) == 3
    assert any("CHLD" in w for w in total.warnings)


def test_docker_stats_cli_lines_one_series_per_container_with_limit():
    traces = read_traces(str(SAMPLES / "docker-stats-cli.jsonl"), interval_s=0.1)
    by_name = {tr.header["name"]: tr for tr in traces}
    assert set(by_name) == {"api", "worker"}
    assert by_name["api"].limit_bytes == LIMIT
    assert _diagnose(by_name["api"]).verdict == "leak"
    assert _diagnose(by_name["worker"]).verdict == "no-leak"
    assert any("no timestamps" in w for w in by_name["api"].warnings)


def test_docker_engine_api_stream_subtracts_the_page_cache():
    trace = read_trace(str(SAMPLES / "docker-api-leak.jsonl"))
    own = read_trace(str(SAMPLES / "leak.memdoctor.jsonl"))
    assert trace.header["name"] == "app" and trace.limit_bytes == LIMIT
    assert trace.rss[0] == pytest.approx(own.rss[0])  # usage - inactive_file, as the docker CLI shows it
    assert np.nanmax(trace.series["procs"]) == 3


def test_saved_prometheus_response_from_a_real_server():
    path = SAMPLES / "fleet.prometheus.json"
    assert detect_format(path.read_bytes()[:4096]) == "prometheus"
    traces = read_traces(str(path))
    names = {tr.header["name"]: tr for tr in traces}
    assert "shop/cart-7d9f-0/app" in names and names["shop/cart-7d9f-0/app"].header["labels"]["namespace"] == "shop"
    assert _diagnose(names["shop/cart-7d9f-0/app"]).verdict == "leak"
    assert _diagnose(names["shop/api-5c8b-0/app"]).verdict == "no-leak"


# -- the same data in every format ------------------------------------------------------------------
@pytest.mark.parametrize("source", ["leak.memdoctor.jsonl", "healthy.memdoctor.jsonl", "leak.mprof.dat"])
def test_conversions_keep_verdict_and_growth(tmp_path, source):
    original = read_trace(str(SAMPLES / source))
    reference = _diagnose(original)
    t = original.t
    if source.endswith(".dat"):
        t = np.round(t / 0.1) * 0.1  # mprof's 0.1 s ticks, for the formats without timestamps
    for fmt in CONVERSIONS:
        path = write_format(fmt, t, original.rss, tmp_path / f"conv.{fmt}")
        traces = read_traces(str(path), interval_s=float(np.median(np.diff(t))))
        assert len(traces) == 1, fmt
        got = _diagnose(traces[0])
        assert got.verdict == reference.verdict, (fmt, got.verdict, got.evidence)
        if reference.verdict == "leak":
            assert got.growth_bytes_per_s == pytest.approx(reference.growth_bytes_per_s, rel=0.05), fmt
        else:
            assert abs(got.growth_bytes_per_s) <= 0.05 * MIB, fmt


# -- detection, overrides, bad input ---------------------------------------------------------------
def test_detection_by_content_not_name(tmp_path):
    t = np.arange(30) * 1.0
    rss = 1e8 + 1e5 * t
    for fmt, expected in [("mprof", "mprof"), ("psrecord", "psrecord"), ("psrecord-csv", "psrecord"),
                          ("docker-cli", "docker-stats"), ("docker-api", "docker-stats"),
                          ("node-memory", "node-memory"), ("prometheus", "prometheus"), ("jsonl", "jsonl"),
                          ("csv", "csv")]:
        path = write_format(fmt, t, rss, tmp_path / "data.txt")  # the same uninformative name for all
        assert detect_format(path.read_bytes()[:4096]) == expected, fmt
    assert detect_format(b"memray\x00\x0d\x00") == "memray"
    assert detect_format(b"\x00\x01binary") is None


def test_format_override_and_unknown_format(tmp_path):
    path = write_format("mprof", np.arange(30) * 1.0, np.full(30, 1e8), tmp_path / "x.dat")
    assert len(read_traces(str(path), "mprof-children")) == 1
    with pytest.raises(TraceReadError, match=r"unknown format 'parquet'.*mprof.*prometheus"):
        read_traces(str(path), "parquet")
    with pytest.raises(TraceReadError, match="psrecord csv header without elapsed_time"):
        read_traces(str(path), "psrecord")


def test_truncated_inputs(tmp_path):
    t = np.arange(100) * 1.0
    rss = 1e8 + 1e5 * t
    # mprof, psrecord, node: the cut last line is dropped with a warning, the rest is read.
    for fmt in ("mprof", "psrecord", "node-memory", "docker-api"):
        path = write_format(fmt, t, rss, tmp_path / f"cut.{fmt}")
        data = path.read_bytes()
        path.write_bytes(data[:-9])
        trace = read_traces(str(path))[0]
        assert len(trace) == 99, fmt
        assert any("cut off" in w for w in trace.warnings), (fmt, trace.warnings)
    # Prometheus: complete series before the cut are kept; a cut inside the only series is an error.
    path = write_format("prometheus", t, rss, tmp_path / "cut.json")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(TraceReadError, match="cut off"):
        read_traces(str(path))
    # memray: a compressed capture cut short is refused by memray itself, in one line.
    cut = tmp_path / "cut.bin"
    cut.write_bytes((SAMPLES / "leak.memray.bin").read_bytes()[:3000])
    with pytest.raises(TraceReadError, match="memray cannot read"):
        read_traces(str(cut))


@pytest.mark.parametrize(("content", "message"), [
    (b'{"status":"error","errorType":"bad_data","error":"parse error at char 5"}', "error.*bad_data"),
    (b'{"status":"success","data":{"resultType":"vector","result":[]}}', "instant query"),
    (b'{"status":"success","data":{"resultType":"matrix","result":[]}}', "no series"),
    (b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[]}]}}',
     "without a usable point"),
])
def test_prometheus_bad_responses(tmp_path, content, message):
    path = tmp_path / "resp.json"
    path.write_bytes(content)
    with pytest.raises(TraceReadError, match=message):
        read_traces(str(path))


def test_cli_errors_are_one_line(tmp_path):
    words = tmp_path / "words.dat"
    words.write_text("MEMO to self\nnot a recording\n")
    proc = memdoctor("analyze", str(words))
    assert_one_line_error(proc)
    assert "tried: jsonl, csv, mprof" in proc.stderr
    cut = tmp_path / "cut.bin"
    cut.write_bytes((SAMPLES / "leak.memray.bin").read_bytes()[:3000])
    proc = memdoctor("analyze", str(cut), "--json")
    assert_one_line_error(proc)
    assert proc.stdout == ""
    empty = tmp_path / "empty.json"
    empty.write_bytes(b'{"status":"success","data":{"resultType":"matrix","result":[]}}')
    assert_one_line_error(memdoctor("analyze", str(empty)))


def test_prometheus_reader_streams_in_bounded_memory(tmp_path):
    """A 200-series response is read one series at a time: the reader never holds the whole text."""
    from memdoctor.traces.importers.common import JsonValueStream

    t = np.arange(2880) * 30.0
    result = [{"metric": {"pod": f"p{i}", "container": "app"},
               "values": [[1795460000 + a, str(100_000_000 + i)] for a in t]} for i in range(200)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}))
    largest = [0]
    original = JsonValueStream.read_more

    def spy(self, at_least=JsonValueStream.READ):
        grew = original(self, at_least)
        largest[0] = max(largest[0], len(self.buf))
        return grew

    JsonValueStream.read_more = spy
    try:
        traces = read_traces(str(path))
    finally:
        JsonValueStream.read_more = original
    assert len(traces) == 200 and len(traces[0]) == 2880
    # About one read block (1 MiB) and one series (~80 KB), not the 16 MB document.
    assert path.stat().st_size > 15e6 and largest[0] < 2.5e6
