"""Sample entries of a growing V8 container, for `memdoctor diff --show-values` only.

A V8 snapshot holds every string of the heap: Map keys, session tokens, e-mails, request bodies.
memdoctor never prints them unless the user asks with `--show-values`; this module is the one
place that reads them, and only for the containers the diff already ranked. It shows the newest
entries (Maps, Sets and arrays keep insertion order), each value cut to a short width.
"""

from __future__ import annotations

from memdoctor.heap.v8.containers import table_layout
from memdoctor.heap.v8.parser import HeapSnapshot

SAMPLES = 3
WIDTH = 60
STRING_TYPES = ("string", "concatenated string", "sliced string")


def shorten(text: str, width: int = WIDTH) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def describe(snap: HeapSnapshot, node: int) -> str:
    """A node as a value: strings quoted, numbers as they are, objects by their constructor."""
    code = int(snap.node_type[node])
    kind = snap.node_types[code] if code < len(snap.node_types) else "?"
    name = snap.node_name_text(node)
    if kind in STRING_TYPES:
        return repr(shorten(_string_text(snap, node)))
    if kind in ("number", "heap number", "bigint"):
        return shorten(name)
    if kind == "closure":
        return f"<function {shorten(name, 30) or 'anonymous'}>"
    if kind == "object":
        return f"<{shorten(name, 30) or 'Object'}>"
    return f"<{kind}>"


def _string_text(snap: HeapSnapshot, node: int, width: int = WIDTH + 1) -> str:
    """The text of a string node; a cons string is its parts in order ("first" then "second")."""
    parts: list[str] = []
    stack = [node]
    size = 0
    while stack and size < width:
        current = stack.pop()
        kind = snap.node_types[int(snap.node_type[current])]
        if kind == "concatenated string":
            first = _named_target(snap, current, "internal", "first")
            second = _named_target(snap, current, "internal", "second")
            stack.extend(part for part in (second, first) if part >= 0)
            continue
        text = snap.node_name_text(current)
        parts.append(text)
        size += len(text)
    return "".join(parts)


def _named_target(snap: HeapSnapshot, node: int, edge_type: str, name: str) -> int:
    code = snap.edge_type_code(edge_type)
    for e in snap.edges_of(node):
        if int(snap.edge_type[e]) == code and snap.edge_name_text(e) == name:
            return int(snap.edge_to[e])
    return -1


def _table_samples(snap: HeapSnapshot, node: int, entry_size: int, count: int) -> list[str]:
    table = _named_target(snap, node, "internal", "table")
    if table < 0:
        return []
    _, first, stride = table_layout(snap, table, entry_size)
    internal = snap.edge_type_code("internal")
    entries: dict[int, dict[int, str]] = {}
    for e in snap.edges_of(table):
        text = snap.edge_name_text(e)
        if int(snap.edge_type[e]) != internal or not text.isdigit() or int(text) < first:
            continue
        entry, part = divmod(int(text) - first, stride)
        if part < entry_size:
            entries.setdefault(entry, {})[part] = describe(snap, int(snap.edge_to[e]))
    out = []
    for entry in sorted(entries)[-count:]:
        parts = entries[entry]
        key = parts.get(0, "<small integer>")
        out.append(f"{key} → {parts.get(1, '<small integer>')}" if entry_size == 2 else key)
    return out


def _element_samples(snap: HeapSnapshot, node: int, count: int) -> list[str]:
    element = snap.edge_type_code("element")
    edges = [e for e in snap.edges_of(node) if int(snap.edge_type[e]) == element]
    if not edges:
        store = _named_target(snap, node, "internal", "elements")
        if store >= 0:
            kinds = (element, snap.edge_type_code("internal"))
            edges = [e for e in snap.edges_of(store)
                     if int(snap.edge_type[e]) in kinds and snap.edge_name_text(e).strip("[]").isdigit()]
    return [describe(snap, int(snap.edge_to[e])) for e in edges[-count:]]


def _property_samples(snap: HeapSnapshot, node: int, count: int) -> list[str]:
    prop = snap.edge_type_code("property")
    edges = [e for e in snap.edges_of(node)
             if int(snap.edge_type[e]) == prop and snap.edge_name_text(e) != "__proto__"]
    return [f"{shorten(snap.edge_name_text(e), 40)!r} → {describe(snap, int(snap.edge_to[e]))}" for e in edges[-count:]]


def sample_values(snap: HeapSnapshot, node: int, container: str, count: int = SAMPLES) -> list[str]:
    """The newest `count` entries of a container (a KIND_NAMES kind), as short printable values."""
    if container == "Map":
        return _table_samples(snap, node, 2, count)
    if container == "Set":
        return _table_samples(snap, node, 1, count)
    if container == "Array":
        return _element_samples(snap, node, count)
    if container == "object-map":
        return _property_samples(snap, node, count)
    return [describe(snap, node)]
