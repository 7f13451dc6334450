"""Issue 19 item 11: unbounded inputs end in a one-line error naming the cap (exit 2), never in a
hang or memory exhaustion: a huge JSONL line, an endless Prometheus answer, a huge name in a
Python or V8 heap snapshot."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from memdoctor.fleet.prometheus import MAX_DOCUMENT_BYTES
from memdoctor.heap.python.reader import MAX_NAME_CHARS
from memdoctor.heap.v8.parser import MAX_NAME_BYTES
from memdoctor.traces.jsonl_reader import MAX_LINE_BYTES

from .conftest import assert_one_line_error, memdoctor

pytestmark = pytest.mark.integration


def test_a_jsonl_line_over_the_cap_is_refused_in_one_line(tmp_path: Path):
    trace = tmp_path / "huge.jsonl"
    with trace.open("w") as fh:
        fh.write(json.dumps({"memdoctor_trace": 1, "interval_s": 1}) + "\n")
        for i in range(20):
            fh.write(json.dumps({"t": i, "rss": 1000 + i}) + "\n")
        fh.write('{"t": 21, "rss": 5, "pad": "' + "x" * (MAX_LINE_BYTES + 10) + '"}\n')
    proc = memdoctor("analyze", str(trace), "--json")
    assert_one_line_error(proc)
    assert "MAX_LINE_BYTES" in proc.stderr and "line 22" in proc.stderr


class _Endless(BaseHTTPRequestHandler):
    """A Prometheus that never stops answering (it stops at 3x the cap, for the sake of old code)."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        chunk = b"x" * (1 << 20)
        try:
            self.wfile.write(b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"')
            for _ in range(3 * (MAX_DOCUMENT_BYTES >> 20)):
                self.wfile.write(chunk)
        except OSError:
            pass  # the client gave up: that is the point


def test_an_endless_prometheus_answer_ends_at_the_cap():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        proc = memdoctor("fleet", "--prometheus", url, "--retries", "0", timeout=300)
    finally:
        server.shutdown()
        server.server_close()
    assert_one_line_error(proc)
    assert "MAX_DOCUMENT_BYTES" in proc.stderr


def _python_snapshot(path: Path, type_name: str, captured_at: float) -> None:
    path.write_text(json.dumps({"memdoctor_heap": 1, "runtime": "python", "pid": 1, "captured_at_unix": captured_at,
                                "types": [[type_name, 1, 100], ["dict", 10, 1000]], "containers": []}))


def test_a_huge_python_type_name_is_refused_in_one_line(tmp_path: Path):
    old, new = tmp_path / "a.snap", tmp_path / "b.snap"
    _python_snapshot(old, "ok", 1000.0)
    _python_snapshot(new, "T" * (MAX_NAME_CHARS + 1), 1060.0)
    proc = memdoctor("diff", str(old), str(new))
    assert_one_line_error(proc)
    assert "MAX_NAME_CHARS" in proc.stderr


def _v8_snapshot(path: Path, constructor: str) -> None:
    meta = {"node_fields": ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"],
            "node_types": [["hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native",
                            "synthetic", "concatenated string", "sliced string", "symbol", "bigint"],
                           "string", "number", "number", "number", "number", "number"],
            "edge_fields": ["type", "name_or_index", "to_node"],
            "edge_types": [["context", "element", "property", "internal", "hidden", "shortcut", "weak"],
                           "string_or_number", "node"],
            "trace_function_info_fields": [], "trace_node_fields": [], "sample_fields": [], "location_fields": []}
    doc = {"snapshot": {"meta": meta, "node_count": 2, "edge_count": 1, "trace_function_count": 0},
           # the root (synthetic) -> one object whose constructor has the given name
           "nodes": [9, 0, 1, 0, 1, 0, 0, 3, 1, 3, 64, 0, 0, 0],
           "edges": [2, 2, 7],
           "trace_function_infos": [], "trace_tree": [], "samples": [], "locations": [],
           "strings": ["", constructor, "x"]}
    path.write_text(json.dumps(doc))


def test_a_huge_v8_constructor_name_is_refused_in_one_line(tmp_path: Path):
    old, new = tmp_path / "a.heapsnapshot", tmp_path / "b.heapsnapshot"
    _v8_snapshot(old, "Ok")
    _v8_snapshot(new, "C" * (MAX_NAME_BYTES + 1))
    proc = memdoctor("diff", str(old), str(new))
    assert_one_line_error(proc)
    assert "MAX_NAME_BYTES" in proc.stderr
    # A long string *value* is not a name: the same size as a string node is read.
    value = tmp_path / "c.heapsnapshot"
    _v8_snapshot(value, "Ok")
    doc = json.loads(value.read_text())
    doc["strings"].append("v" * (MAX_NAME_BYTES + 1))
    doc["nodes"][7] = 2  # the second node is now a string whose value is that text
    doc["nodes"][8] = 3
    value.write_text(json.dumps(doc))
    assert memdoctor("diff", str(old), str(value)).returncode == 0
