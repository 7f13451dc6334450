"""The V8 snapshot engine's compiled and vectorized parts against plain references.

The compiled number parser, the dominator kernel and the numpy replacements of former kernels
(owners, edge counts, named edges) are checked on a real snapshot that Node writes with
`v8.writeHeapSnapshot()`, and the parser's fallbacks on real snapshots edited to need them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from .test_v8_heap import _reference_retained

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

SCRIPT = """
const v8 = require('v8');
const cache = new Map(); const list = { next: null };
let tail = list;
for (let i = 0; i < 300; i++) { cache.set('k' + i, { v: new Array(20).fill(i), s: 'x' + i }); }
for (let i = 0; i < 5000; i++) { tail.next = { next: null, i }; tail = tail.next; }  // a deep chain
const big = {}; for (let i = 0; i < 40; i++) big['p' + i] = { i };
globalThis.keep = [cache, list, big];
v8.writeHeapSnapshot(process.argv[2]);
"""


@pytest.fixture(scope="module")
def snapshot_path(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("v8engine")
    script = tmp / "write.js"
    script.write_text(SCRIPT)
    path = tmp / "w.heapsnapshot"
    subprocess.run([NODE, str(script), str(path)], check=True, timeout=60)
    return path


def _slow(path: Path):
    from memdoctor.heap.v8 import parser

    with open(path, "rb") as fh:
        return parser._read(fh, str(path), fast=False)


COLUMNS = ("node_type", "node_name", "node_id", "self_size", "edge_first", "edge_type", "edge_name", "edge_to")


@pytest.mark.integration
def test_compiled_parser_matches_numpy_parser_and_json(snapshot_path):
    from memdoctor.heap.v8.parser import read_snapshot

    fast, slow = read_snapshot(str(snapshot_path)), _slow(snapshot_path)
    for name in COLUMNS:
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    doc = json.loads(snapshot_path.read_text())
    nf = len(doc["snapshot"]["meta"]["node_fields"])
    assert fast.edge_to.tolist() == [x // nf for x in doc["edges"][2::3]]
    assert fast.node_id.tolist() == doc["nodes"][2::nf]


@pytest.mark.integration
def test_parser_falls_back_on_what_the_compiled_one_does_not_take(snapshot_path, tmp_path):
    from memdoctor.heap.runtimes import HeapError
    from memdoctor.heap.v8.parser import read_snapshot

    text = snapshot_path.read_text()
    doc = json.loads(text)
    nf = len(doc["snapshot"]["meta"]["node_fields"])
    # An id wider than 32 bits (a long-lived process): the numpy reader widens the column.
    doc["nodes"][2 + nf] = 2**33 + 1
    wide = tmp_path / "wide.heapsnapshot"
    wide.write_text(json.dumps(doc))
    snap = read_snapshot(str(wide))
    assert snap.node_id.dtype == np.uint64 and int(snap.node_id[1]) == 2**33 + 1
    # Blanks around numbers (a pretty-printed file) are fine.
    spaced = tmp_path / "spaced.heapsnapshot"
    spaced.write_text(text.replace('"edges":[', '"edges":[ ', 1).replace(",", " , ", 50))
    assert np.array_equal(read_snapshot(str(spaced)).edge_to, read_snapshot(str(snapshot_path)).edge_to)
    # A number cut by a blank, a negative number, more nodes than announced: one-line errors.
    announced = f'"node_count":{doc["snapshot"]["node_count"]}'
    assert announced in text
    for bad in (text.replace('"nodes":[', '"nodes":[1 2,', 1), text.replace('"nodes":[', '"nodes":[-', 1),
                text.replace(announced, '"node_count":3', 1)):
        path = tmp_path / "bad.heapsnapshot"
        path.write_text(bad)
        with pytest.raises(HeapError) as err:
            read_snapshot(str(path))
        assert "\n" not in str(err.value)


@pytest.mark.integration
def test_dominators_equal_the_reference_on_a_deep_chain(snapshot_path):
    from memdoctor.heap.v8 import dominators
    from memdoctor.heap.v8.parser import read_snapshot

    snap = read_snapshot(str(snapshot_path))
    dom = dominators.compute(snap)
    idom, retained = _reference_retained(snapshot_path)
    assert dom.idom.tolist() == idom
    assert dom.retained.tolist() == retained
    # The order is a preorder of the reachable nodes in which each comes after its dominator.
    position = np.full(snap.node_count, -1)
    position[dom.order] = np.arange(len(dom.order))
    assert dom.order[0] == 0 and len(set(dom.order.tolist())) == len(dom.order)
    assert np.all(position[dom.idom[dom.order[1:]]] < np.arange(1, len(dom.order)))


@pytest.mark.integration
def test_numpy_helpers_equal_plain_loops(snapshot_path):
    from memdoctor.heap.v8 import dominators, kernels
    from memdoctor.heap.v8.parser import read_snapshot

    snap = read_snapshot(str(snapshot_path))
    dom = dominators.compute(snap)
    rng = np.random.default_rng(7)
    old = rng.random(snap.node_count) < 0.3
    owner = kernels.owners(dom.order, dom.idom, old)
    expected = np.zeros(snap.node_count, dtype=np.int64)
    for v in dom.order[1:].tolist():
        expected[v] = v if old[v] else expected[dom.idom[v]]
    assert np.array_equal(owner, expected)

    property_code = snap.edge_type_code("property")
    internal = snap.edge_type_code("internal")
    nodes = np.flatnonzero(np.diff(snap.edge_first) > 0)[::7].astype(np.int32)
    counts = [sum(1 for e in snap.edges_of(v) if snap.edge_type[e] == property_code) for v in nodes.tolist()]
    assert kernels.count_edges_of(nodes, snap.edge_first, snap.edge_type, property_code).tolist() == counts
    every = kernels.count_edges(snap.node_count, snap.edge_first, snap.edge_type, property_code)
    assert every[nodes].tolist() == counts
    name = snap.strings.find("elements")
    targets = [next((int(snap.edge_to[e]) for e in snap.edges_of(v)
                     if snap.edge_type[e] == internal and snap.edge_name[e] == name), -1) for v in nodes.tolist()]
    found = kernels.named_targets(nodes, snap.edge_first, snap.edge_type, snap.edge_name, snap.edge_to, internal, name)
    assert found.tolist() == targets and max(targets) >= 0


@pytest.mark.parametrize(("script", "label"), [
    ("/srv/app/node_modules/express-session/session/memory.js", "express-session/session/memory.js"),
    ("file:///srv/app/node_modules/@scope/pkg/lib/store.js", "@scope/pkg/lib/store.js"),
    ("/srv/a/node_modules/x/node_modules/y/index.js", "y/index.js"),  # the innermost package owns the file
    ("/srv/app/server.js", "server.js"),
    ("node:internal/timers", "node:internal/timers"),
])
def test_a_dependencys_script_is_named_with_its_package(script: str, label: str) -> None:
    """Issue 21: a container was 'module index.js > closure onconnect > store (MemoryStore) > sessions'
    without saying that index.js is express-session's."""
    from memdoctor.heap.v8.retainers import script_label

    assert script_label(script) == label


def test_the_diff_says_how_much_the_whole_heap_changed() -> None:
    """Issue 21: on a healthy app every row was runtime noise and nothing said that the heap did not
    grow; the diff's notes now give the whole heap's change beside the rows."""
    from memdoctor.heap.v8.diff import _heap_change

    assert _heap_change(3_000_000, 2_990_000).startswith("the heap did not grow from the first to the last snapshot")
    assert "nothing here is a leak" in _heap_change(3_000_000, 3_000_000)
    grew = _heap_change(6 << 20, 20 << 20)
    assert grew.startswith("the heap grew 14.0 MiB (+233.3%)") and "20.0 MiB now" in grew


def test_a_property_of_a_class_instance_is_named_with_its_class() -> None:
    """Issue 21 item 4: the Node batch writer's buffer was `pending (Array)`, the SSE hub's list
    `clients (Array)`; with their class, as the code spells them: `BatchWriter.pending (Array)`.
    Built-in owners (Object, Map, ...) and unnamed steps add nothing."""
    from memdoctor.heap.v8.retainers import Namer

    def short(path: str) -> str:
        return Namer.short(None, 0, path)  # type: ignore[arg-type]  # the path is given: no snapshot read

    assert short("module incidents.js > writer (BatchWriter) > pending (Array)") == "BatchWriter.pending (Array)"
    assert short("module incidents.js > SseHub > clients (Array)") == "SseHub.clients (Array)"
    assert short("module map_leak.js > ongoingDialogues (Map)") == "ongoingDialogues (Map)"
    assert short("priceFeed (EventEmitter) > _events > price (Array of listeners)") == "price (Array of listeners)"
    assert short("module a.js > state (Object) > sessions (Map)") == "sessions (Map)"
    assert short("closure loadProfile > profileCache (Object used as map)") == "profileCache (Object used as map)"
