"""The containers of one V8 snapshot and how full they are: the input of the growth diff.

A container is what a leak grows in: a `Map` or `Set` (entries live in its hash table), an
`Array` (listeners arrays of EventEmitters are arrays too), a plain object used as a map (many
properties), and the variables of closure scopes (a string or a structure that a closure keeps
appending to). Each is identified by *where* it is: a hash of its retainer path (edge
names up to the closure scope or global object that holds it; see kernels.path_keys). V8 object
ids would be simpler, but V8 renumbers every object when an inspector session that enabled the
heap profiler ends or when the inspector closes, which happens between two `memdoctor snapshot`
runs; a place in the program does not move. Containers found at the same place (one `turns`
array per dialogue) are summed into one row.

Entry counts:
- Array: its element edges (one per element that is an object); an array of small integers has
  none, and its capacity (from the size of its backing store) stands in, marked `estimated`.
- Map / Set: the table's slots are edges named by slot number; a sample of those names gives
  how many edges one entry makes (key and value, or only one of them), and the edge count
  divided by that is the entry count. With no edge at all (only small integers), the table's
  capacity stands in, marked `estimated`.
- Object used as map: its property count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memdoctor.heap.v8 import kernels
from memdoctor.heap.v8.parser import HeapSnapshot
from memdoctor.heap.v8.retainers import RetainerIndex

KIND_NAMES = ("Map", "Set", "Array", "object-map", "variable")
MAP, SET, ARRAY, OBJECT_MAP, VARIABLE = range(5)
MIN_OBJECT_MAP_PROPERTIES = 32
# The global object's node name: "global / " in Node's snapshots (V8 appends the context's URL, empty
# for Node), "global" or "Window" in others (retainers.is_global reads the same names).
GLOBAL_NAMES = ("global / ", "global", "Window")
MIN_VARIABLE_BYTES = 4096
FIXED_ARRAY_HEADER = 16
SLOT = 8
TABLE_HEADER_SLOTS = 3  # V8's OrderedHashTable: [elements, deleted, buckets, bucket heads..., entries...]


@dataclass
class Containers:
    """Parallel arrays, one entry per container, sorted by `key`."""

    key: np.ndarray  # uint64: where the container is (its retainer path, see kernels.path_keys) and its kind
    node: np.ndarray  # int32 node index of the largest instance in this snapshot
    kind: np.ndarray  # uint8, index in KIND_NAMES
    entries: np.ndarray  # int64, summed over the instances at that place
    estimated: np.ndarray  # bool: entries from capacity, not counted
    retained: np.ndarray  # int64, summed over the instances
    instances: np.ndarray  # int64: how many containers share the place (e.g. one array per Map entry)
    object_id: np.ndarray  # uint64: V8 id of the largest instance (to tell whether ids are stable)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Position of each key here, or -1."""
        pos = np.searchsorted(self.key, keys)
        pos = np.minimum(pos, max(len(self.key) - 1, 0))
        found = (len(self.key) > 0) & (self.key[pos] == keys) if len(self.key) else np.zeros(len(keys), bool)
        return np.where(found, pos, -1)


def _slot_number(snap: HeapSnapshot, name_index: int, cache: dict[int, int]) -> int | None:
    if name_index not in cache:
        text = snap.strings[name_index]
        cache[name_index] = int(text) if text.isdigit() else -1
    value = cache[name_index]
    return value if value >= 0 else None


def table_layout(snap: HeapSnapshot, table: int, entry_size: int) -> tuple[int, int, int]:
    """(buckets, slot of the first entry, slots per entry) of an OrderedHashMap (entry_size 2) or
    OrderedHashSet (1), from its size: an entry is key [, value], chain."""
    stride = entry_size + 1
    buckets = max(0, ((int(snap.self_size[table]) - FIXED_ARRAY_HEADER) // SLOT - TABLE_HEADER_SLOTS)
                  // (1 + 2 * stride))
    return buckets, TABLE_HEADER_SLOTS + buckets, stride


def _table_entries(snap: HeapSnapshot, table: int, entry_size: int, cache: dict[int, int]) -> tuple[int, bool]:
    """Entries of an OrderedHashMap (entry_size 2) / OrderedHashSet (1) from its slot edges."""
    lo, hi = int(snap.edge_first[table]), int(snap.edge_first[table + 1])
    buckets, first, stride = table_layout(snap, table, entry_size)
    slots = []
    internal = snap.edge_type_code("internal")
    for e in range(lo, hi):
        if int(snap.edge_type[e]) != internal:
            continue
        n = _slot_number(snap, int(snap.edge_name[e]), cache)
        if n is not None:
            slots.append(n)
            if len(slots) >= 96:
                break
    if not slots:
        return 2 * buckets, True  # capacity: only small integers inside
    per_entry = len(slots) / max(1, len({(s - first) // stride for s in slots}))
    edges = hi - lo - 1  # all but the map edge
    return max(1, round(edges / per_entry)), False


def find_containers(snap: HeapSnapshot, retained: np.ndarray, index: RetainerIndex) -> Containers:
    strings = snap.strings
    t_object = snap.node_type_code("object")
    e_element = snap.edge_type_code("element")
    e_property = snap.edge_type_code("property")
    e_internal = snap.edge_type_code("internal")
    e_context = snap.edge_type_code("context")
    n = snap.node_count
    is_object = snap.node_type == t_object
    nodes: list[int] = []
    kinds: list[int] = []
    entries: list[int] = []
    estimated: list[bool] = []

    # Maps and Sets.
    cache: dict[int, int] = {}
    table_name = strings.find("table")
    for kind, name in ((MAP, "Map"), (SET, "Set")):
        idx = strings.find(name)
        if idx < 0 or table_name < 0:
            continue
        found = np.flatnonzero(is_object & (snap.node_name == idx)).astype(np.int32)
        tables = kernels.named_targets(found, snap.edge_first, snap.edge_type, snap.edge_name, snap.edge_to,
                                       e_internal, table_name)
        for v, t in zip(found.tolist(), tables.tolist(), strict=True):
            if t < 0:
                continue  # the Map.prototype object and friends
            count, est = _table_entries(snap, t, 2 if kind == MAP else 1, cache)
            nodes.append(v)
            kinds.append(kind)
            entries.append(count)
            estimated.append(est)

    # Arrays.
    array_name = strings.find("Array")
    if array_name >= 0:
        arrays = np.flatnonzero(is_object & (snap.node_name == array_name)).astype(np.int32)
        elements = kernels.count_edges_of(arrays, snap.edge_first, snap.edge_type, e_element)
        store = kernels.named_targets(arrays, snap.edge_first, snap.edge_type, snap.edge_name, snap.edge_to,
                                      e_internal, strings.find("elements"))
        capacity = np.where(store >= 0, (snap.self_size[np.maximum(store, 0)].astype(np.int64) - FIXED_ARRAY_HEADER)
                            // SLOT, 0)
        est = (elements == 0) & (capacity > 0)
        nodes.extend(arrays.tolist())
        kinds.extend([ARRAY] * len(arrays))
        entries.extend(np.where(est, capacity, elements).tolist())
        estimated.extend(est.tolist())

    # Plain objects used as maps, and the global object (a leak through `globalThis[key] = ...` adds its
    # properties: before, it showed as "new objects kept by (global /)" with no count).
    object_name = strings.find("Object")
    plain_or_global = snap.node_name == object_name if object_name >= 0 else np.zeros(n, dtype=np.bool_)
    for global_name in GLOBAL_NAMES:
        idx = strings.find(global_name)
        if idx >= 0:
            plain_or_global |= snap.node_name == idx
    if plain_or_global.any():
        # Only objects with that many edges can have that many properties: count those only.
        many = np.flatnonzero(is_object & plain_or_global
                              & (np.diff(snap.edge_first) >= MIN_OBJECT_MAP_PROPERTIES))
        props = kernels.count_edges_of(many, snap.edge_first, snap.edge_type, e_property)
        maps = many[props >= MIN_OBJECT_MAP_PROPERTIES]
        nodes.extend(maps.tolist())
        kinds.extend([OBJECT_MAP] * len(maps))
        entries.extend(props[props >= MIN_OBJECT_MAP_PROPERTIES].tolist())
        estimated.extend([False] * len(maps))
        del props, many

    taken = np.zeros(n, dtype=np.bool_)
    taken[np.asarray(nodes, dtype=np.int64)] = True

    # Variables of closure scopes that hold something sizeable that is not a container itself.
    context_name = strings.find("system / Context")
    if context_name >= 0 and e_context >= 0:
        contexts = np.flatnonzero(snap.node_name == context_name).astype(np.int32)
        _, edges = kernels.edges_of_type_from(contexts, snap.edge_first, snap.edge_type, e_context)
        targets = snap.edge_to[edges]
        # Functions and scopes are how code reaches data, not data: their growth is that of what they hold.
        plain = ~np.isin(snap.node_type[targets], [snap.node_type_code("closure"), snap.node_type_code("code")])
        plain &= snap.node_name[targets] != context_name
        big = (retained[targets] >= MIN_VARIABLE_BYTES) & ~taken[targets] & plain
        for t in targets[big].tolist():
            nodes.append(t)
            kinds.append(VARIABLE)
            entries.append(1)
            estimated.append(False)

    node = np.asarray(nodes, dtype=np.int32)
    kind = np.asarray(kinds, dtype=np.uint8)
    count = np.asarray(entries, dtype=np.int64)
    est = np.asarray(estimated, dtype=np.bool_)
    keys_by_path = _path_keys(snap, index, node) ^ (kind.astype(np.uint64) << np.uint64(59))
    return _aggregate(keys_by_path, node, kind, count, est, retained[node].astype(np.int64),
                      snap.node_id[node].astype(np.uint64))


def _path_keys(snap: HeapSnapshot, index: RetainerIndex, nodes: np.ndarray) -> np.ndarray:
    from memdoctor.heap.v8.retainers import PRIORITY

    if len(nodes) == 0:
        return np.zeros(0, dtype=np.uint64)
    str_data, str_start, str_end = snap.strings.raw()
    prio = np.array([PRIORITY.get(t, 6) for t in snap.edge_types], dtype=np.int64)
    named = np.array([t not in ("element", "hidden") for t in snap.edge_types], dtype=np.bool_)
    is_global = np.zeros(snap.node_count, dtype=np.bool_)
    for name in ("global", "Window"):
        idx = snap.strings.find(name)
        if idx >= 0:
            is_global |= (snap.node_name == idx) & (snap.node_type == snap.node_type_code("object"))
    return kernels.path_keys(nodes, snap.edge_first, snap.edge_type, snap.edge_name, index.rev_first,
                             index.rev_edge, index.dist, snap.node_name, str_data, str_start, str_end,
                             snap.strings.find("system / Context"), is_global, prio, named,
                             snap.edge_type_code("context"))


def _aggregate(keys: np.ndarray, node: np.ndarray, kind: np.ndarray, count: np.ndarray, est: np.ndarray,
               retained: np.ndarray, ids: np.ndarray) -> Containers:
    """One row per path key: entries and bytes summed over the instances found at that place;
    the largest instance represents them."""
    if len(keys) == 0:
        z = np.zeros(0, dtype=np.int64)
        return Containers(np.zeros(0, np.uint64), z.astype(np.int32), z.astype(np.uint8), z, z.astype(bool), z, z,
                          np.zeros(0, np.uint64))
    order = np.lexsort((-retained, keys))
    keys, node, kind, count, est, retained, ids = (a[order] for a in (keys, node, kind, count, est, retained, ids))
    first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    instances = np.diff(np.concatenate((first, [len(keys)])))
    return Containers(key=keys[first], node=node[first], kind=kind[first], entries=np.add.reduceat(count, first),
                      estimated=np.logical_or.reduceat(est, first), retained=np.add.reduceat(retained, first),
                      instances=instances.astype(np.int64), object_id=ids[first])
