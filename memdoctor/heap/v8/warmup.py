"""Compile the numba kernels on a tiny snapshot in a helper process while the snapshots are read.

numba compiles a kernel the first time it is called (about 5 s for all of them here) and caches
the machine code on disk (`cache=True`). On a cold start, a helper process compiles them on the
other core while the main process parses the two largest snapshots (numpy's parser holds the GIL,
so a thread would not run alongside it); the main process then loads the kernels from the cache.
If the helper fails or the cache cannot be written, the main process compiles them itself.
The tiny snapshot has every kind of node and edge the kernels meet, with the dtypes the parser
produces, so the compiled specializations are the ones the real run uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

NODE_TYPES = ["hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native", "synthetic",
              "concatenated string", "sliced string", "symbol", "bigint", "object shape"]
EDGE_TYPES = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"]


def tiny_snapshot() -> bytes:
    strings = ["", "(GC roots)", "system / Context", "Map", "table", "m", "f", "context", "Array", "elements", "Object",
               "a", "shared", "x", "system / NativeContext", "previous", "global", "script_or_debug_info", "/app/x.js"]
    s = {t: i for i, t in enumerate(strings)}
    n = NODE_TYPES.index
    e = EDGE_TYPES.index
    # (type, name, id, self_size, [(edge type, name or index, target node)])
    nodes = [
        ("synthetic", "", 1, 0, [("element", 1, 1), ("shortcut", s["global"], 9), ("weak", s["x"], 7)]),
        ("synthetic", "(GC roots)", 3, 0, [("element", 1, 5)]),
        ("object", "system / Context", 5, 40, [("context", s["m"], 3), ("internal", s["previous"], 8),
                                              ("context", s["a"], 6)]),
        ("object", "Map", 7, 32, [("internal", s["table"], 4)]),
        ("array", "", 9, 64, [("internal", s["11"] if "11" in s else s["x"], 7)]),
        ("closure", "f", 11, 64, [("internal", s["context"], 2), ("internal", s["shared"], 10)]),
        ("object", "Array", 13, 32, [("element", 0, 7), ("internal", s["elements"], 4)]),
        ("object", "Object", 15, 24, [("property", s["a"], 3)]),
        ("hidden", "system / NativeContext", 17, 16, []),
        ("object", "global", 19, 16, [("property", s["f"], 5)]),
        ("code", "f", 21, 16, [("internal", s["script_or_debug_info"], 11)]),
        ("code", "/app/x.js", 23, 16, []),
    ]
    flat_nodes, flat_edges = [], []
    for kind, name, nid, size, edges in nodes:
        flat_nodes += [n(kind), s[name], nid, size, len(edges), 0, 0]
        for etype, name_or_index, to in edges:
            flat_edges += [e(etype), name_or_index, to * 7]
    meta = {"node_fields": ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"],
            "node_types": [NODE_TYPES, "string", "number", "number", "number", "number", "number"],
            "edge_fields": ["type", "name_or_index", "to_node"],
            "edge_types": [EDGE_TYPES, "string_or_number", "node"]}
    doc = {"snapshot": {"meta": meta, "node_count": len(nodes), "edge_count": len(flat_edges) // 3},
           "nodes": flat_nodes, "edges": flat_edges, "strings": strings}
    text = json.dumps(doc, separators=(",", ":"))
    return text.replace('","', '",\n"').encode()  # one string per line, as V8 writes them


def warm_up() -> None:
    import numpy as np

    from memdoctor.heap.v8 import containers, dominators, kernels
    from memdoctor.heap.v8.parser import read_snapshot_bytes
    from memdoctor.heap.v8.retainers import RetainerIndex

    snap = read_snapshot_bytes(tiny_snapshot(), "warm-up")
    dom = dominators.compute(snap)
    index = RetainerIndex(snap)
    containers.find_containers(snap, dom.retained, index)
    kernels.owners(dom.order, dom.idom, np.ones(snap.node_count, dtype=np.bool_))


def start() -> subprocess.Popen | None:
    """Compile the kernels in a helper process (None when that is not needed or not possible)."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ)
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        return subprocess.Popen([sys.executable, "-c", "from memdoctor.heap.v8.warmup import warm_up; warm_up()"],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


def wait(helper: subprocess.Popen | None, timeout: float = 120.0) -> None:
    if helper is None:
        return
    try:
        helper.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()
