"""`memdoctor diff A B [C]` on V8 heap snapshots.

Two views, ranked together by bytes:
1. Containers that grow (Map, Set, Array, objects used as maps, listeners arrays of
   EventEmitters, variables of closure scopes), followed across snapshots by their place in the
   program (a hash of their retainer path; see containers.py for why not by V8 object id): with
   three snapshots only what grew in both steps A -> B and B -> C (entries or retained bytes) is kept.
   Each row has entries before/after, bytes per entry, growth per minute (from the snapshots'
   `captured_at`), and `suggested_cap`: the cap of analysis.caps.container_caps, the one computation
   `report` and `caps` use too: floor((limit - baseline) x 0.25 / bytes per entry). The limit is
   `--limit`, else the snapshot's metadata, else physical RAM; the baseline is the service's
   normal memory, the RSS recorded just before the FIRST capture (a capture leaves the target's
   RSS inflated for a while: the later snapshots' RSS is not the service's), else the heap's size.
2. The memlab method, when V8's object ids are stable across the snapshots (snapshots written
   by `--heapsnapshot-signal`, `v8.writeHeapSnapshot()`, or one DevTools session; `memdoctor
   snapshot` keeps them by never enabling the heap profiler in its session, but V8 renumbers
   the heap when the inspector it opened is closed again): objects allocated between A and B
   (ids in B and not in A) that are still alive in C. Each such object is charged to its nearest
   dominator that already existed in A (the "owner" that keeps it: a Map, an array, a closure
   scope); owners are named by their retainer path and ranked by the bytes of the new objects
   they keep. An owner that is a growing container already shown in (1) gets these numbers in
   its row instead of a row of its own.

Memory and time: a thread compiles the numba kernels (kernels.compile_in_background) while the
snapshots are parsed (the last, the largest, first); the first and middle ones are then reduced to
summaries (ids and containers) one after the other and dropped, and only then is the last one
indexed and analysed; it is kept for naming.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from memdoctor.analysis import caps
from memdoctor.heap.model import DiffResult, DiffRow, read_meta
from memdoctor.heap.runtimes import HeapError
from memdoctor.heap.v8 import containers as ct
from memdoctor.heap.v8 import dominators, kernels
from memdoctor.heap.v8.parser import HeapSnapshot, read_snapshot
from memdoctor.heap.v8.retainers import Namer, RetainerIndex

MIN_CLUSTER_BYTES = 1024


@dataclass
class Summary:
    path: str
    meta: dict[str, Any]
    ids: np.ndarray  # ids of the JS objects (none for the last snapshot: its own ids are at hand)
    containers: ct.Containers
    heap_bytes: int
    node_count: int
    notes: list[str] = field(default_factory=list)


def _summarize(snap: HeapSnapshot, retained: np.ndarray, meta: dict[str, Any], index: RetainerIndex,
               with_ids: bool = True) -> Summary:
    ids = snap.node_id[(snap.node_id & 1) == 1] if with_ids else snap.node_id[:0]  # JS objects
    return Summary(path=snap.path, meta=meta, ids=ids, containers=ct.find_containers(snap, retained, index),
                   heap_bytes=int(snap.self_size.sum(dtype=np.int64)), node_count=snap.node_count)


def _member(ids: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Which of `query` are in `ids`: through a bitmap indexed by id when the ids are dense
    enough (V8 numbers objects from 1 up, odd for JS objects), else by sorting."""
    if len(ids) == 0 or len(query) == 0:
        return np.zeros(len(query), dtype=np.bool_)
    top = int(max(ids.max(), query.max()))
    if top < 8 * (len(ids) + len(query)) + (1 << 20):  # at most 8 bytes of bitmap per id
        seen = np.zeros(top + 1, dtype=np.bool_)
        seen[ids] = True
        return seen[query]
    ids = np.sort(ids)
    pos = np.searchsorted(ids, query)
    np.minimum(pos, len(ids) - 1, out=pos)
    return ids[pos] == query


def _captured_at(meta: dict[str, Any]) -> float | None:
    value = meta.get("captured_at")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _check_same_process(summaries: list[Summary]) -> None:
    """Snapshots of different processes cannot be diffed: refuse them (from the metadata that
    `memdoctor snapshot` writes; snapshots without it are checked by ids in `_ids_stable`)."""
    first = summaries[0]
    for other in summaries[1:]:
        a, b = first.meta, other.meta
        if a.get("pid") is None or b.get("pid") is None:
            continue
        if (a.get("pid"), a.get("process_start"), a.get("boot_id")) != (b.get("pid"), b.get("process_start"),
                                                                        b.get("boot_id")):
            raise HeapError(f"{first.path} and {other.path} come from different processes (PID {a.get('pid')} "
                            f"and PID {b.get('pid')}): diff snapshots of one process")


def _ids_stable(summaries: list[Summary]) -> bool | None:
    """Do V8 object ids designate the same objects in all snapshots? Judged on the containers
    found at the same place in each (a Map at a module variable keeps its id while ids are kept).
    None when there is too little to judge."""
    last = summaries[-1].containers
    single = np.flatnonzero(last.instances == 1)
    verdicts = []
    for other in summaries[:-1]:
        pos = other.containers.lookup(last.key[single])
        both = pos >= 0
        if both.sum() < 5:
            return None
        same = other.containers.object_id[pos[both]] == last.object_id[single[both]]
        verdicts.append(same.mean() >= 0.6)
    return all(verdicts)


def _limit(limit_bytes: int | None, meta: dict[str, Any]) -> tuple[int, str]:
    if limit_bytes is not None:
        return limit_bytes, "--limit"
    if isinstance(meta.get("limit_bytes"), int) and meta["limit_bytes"] > 0:
        return int(meta["limit_bytes"]), "snapshot metadata"
    from memdoctor.sampling.limits import physical_memory

    return physical_memory(), "physical memory"


def diff_snapshots(paths: list[str], *, limit_bytes: int | None = None, top: int = 20,
                   show_values: bool = False) -> DiffResult:
    if not 2 <= len(paths) <= 3:
        raise HeapError("give two or three snapshots: OLD NEW [NEWER]")
    # numba compiles the kernels on a thread while this one parses (compiling holds the GIL, the
    # kernels release it). All snapshots are parsed first, the largest (the last) first; the others
    # are reduced to summaries (ids and containers) and dropped one by one, then the last is
    # indexed and analysed (memory: its index and dominator tree never coexist with another
    # snapshot's), and kept: its paths name the rows.
    kernels.compile_in_background()
    snap = read_snapshot(paths[-1])
    others = [read_snapshot(path) for path in reversed(paths[:-1])][::-1]
    summaries: list[Summary] = []
    for path in paths[:-1]:
        other = others.pop(0)
        other_index = RetainerIndex(other)
        other_dom = dominators.compute(other, reverse=(other_index.rev_first, other_index.rev_edge))
        summaries.append(_summarize(other, other_dom.retained, read_meta(path), other_index))
        del other, other_dom, other_index
    index = RetainerIndex(snap)
    dom = dominators.compute(snap, reverse=(index.rev_first, index.rev_edge))
    last = _summarize(snap, dom.retained, read_meta(paths[-1]), index, with_ids=False)
    last_path = paths[-1]
    _check_same_process([*summaries, last])
    stable = _ids_stable([*summaries, last])
    have_meta = all(s.meta.get("pid") is not None for s in [*summaries, last])
    if stable is False and not have_meta:
        raise HeapError(f"{paths[0]} and {last_path} do not look like snapshots of one process (the same containers "
                        "have different object ids): diff snapshots of one process")
    first = summaries[0]
    middle = summaries[1] if len(summaries) == 2 else None

    limit, limit_source = _limit(limit_bytes, last.meta)
    rss_known = isinstance(first.meta.get("rss"), int)
    baseline = int(first.meta["rss"]) if rss_known else int(first.heap_bytes)
    t0, t1 = _captured_at(first.meta), _captured_at(last.meta)
    interval = (t1 - t0) if t0 is not None and t1 is not None and t1 > t0 else None

    namer = Namer(snap, index)
    container_rows, owner_rows = _container_rows(first, middle, last, limit, baseline, interval, top)
    cluster_rows: list[DiffRow] = []
    if stable:
        cluster_rows = _cluster_rows(snap, dom, first, middle, namer, owner_rows, top)
    container_rows = _most_specific(container_rows, dom.idom)
    for node, row in container_rows:
        row.where = namer.describe(node)
        row.key = namer.short(node, row.where)
    if show_values:  # asked for: the only path that reads heap values (see values.py)
        from memdoctor.heap.v8.values import sample_values

        for node, row in container_rows:
            row.extras["sample_values"] = sample_values(snap, node, row.extras["container"])
    rows = [row for _, row in container_rows] + cluster_rows
    rows.sort(key=lambda r: (r.bytes_growth, r.count_growth), reverse=True)
    where_from = "RSS before the first capture" if rss_known else "heap size of the first snapshot; no RSS recorded"
    notes = [f"caps: limit {limit:,} bytes from {limit_source}; baseline {baseline:,} bytes ({where_from})"]
    notes.append(_heap_change(first.heap_bytes, last.heap_bytes))
    if interval is None:
        notes.append("no capture times in the snapshots' metadata: no growth per minute")
    if not stable:
        notes.append("V8 renumbered the objects between these snapshots (each inspector session numbers them "
                     "anew): containers are followed by their place in the program and the allocated-between-"
                     "snapshots view is left out; `memdoctor snapshot PID --count 3 --every 60s` takes a series in "
                     "one session, which keeps the numbering")
    if middle is None:
        notes.append("two snapshots: new objects are those absent from the first; a third snapshot separates leaks "
                     "from objects that were about to be freed")
    return DiffResult(rows=rows[:top], runtime="node", snapshots=list(paths), interval_s=interval,
                      limit_bytes=limit, notes=notes, values_shown=show_values)


def _heap_change(first: int, last: int) -> str:
    """The whole heap between the first and the last snapshot, so that rows of a few KiB read as what
    they are: on a heap that did not grow, nothing listed is a leak in these snapshots."""
    from memdoctor.units import format_bytes

    change = last - first
    share = f" ({change / first:+.1%})" if first > 0 else ""
    if change <= 0:
        return (f"the heap did not grow from the first to the last snapshot ({format_bytes(first)} -> "
                f"{format_bytes(last)}): nothing here is a leak in these snapshots; the rows are what moved inside it")
    return f"the heap grew {format_bytes(change)}{share} from the first to the last snapshot ({format_bytes(last)} now)"


def _container_rows(first: Summary, middle: Summary | None, last: Summary, limit: int, baseline: int,
                    interval: float | None, top: int) -> tuple[list[tuple[int, DiffRow]], dict[int, DiffRow]]:
    c = last.containers
    pa = first.containers.lookup(c.key)
    pb = middle.containers.lookup(c.key) if middle is not None else None
    keep = pa >= 0
    if pb is not None:
        keep &= pb >= 0
    idx = np.flatnonzero(keep)
    ea = first.containers.entries[pa[idx]]
    ra = first.containers.retained[pa[idx]]
    ec, rc = c.entries[idx], c.retained[idx]
    if pb is not None:
        eb = middle.containers.entries[pb[idx]]  # type: ignore[union-attr]
        rb = middle.containers.retained[pb[idx]]  # type: ignore[union-attr]
        grows = ((eb > ea) & (ec > eb)) | ((rb > ra) & (rc > rb))
    else:
        eb = rb = None
        grows = (ec > ea) | (rc > ra)
    grows &= (rc - ra > 0) | (ec - ea > 0)
    sel = np.flatnonzero(grows)
    sel = sel[np.lexsort((-(ec[sel] - ea[sel]), -(rc[sel] - ra[sel])))][: max(top * 2, 20)]
    rows: list[tuple[int, DiffRow]] = []
    by_node: dict[int, DiffRow] = {}
    minutes = interval / 60 if interval else None
    for i in sel.tolist():
        j = int(idx[i])
        kind = int(c.kind[j])
        d_entries = int(ec[i] - ea[i])
        d_bytes = int(rc[i] - ra[i])
        per_entry = (d_bytes / d_entries) if d_entries > 0 and d_bytes > 0 else (
            float(rc[i]) / float(ec[i]) if ec[i] > 0 else None)
        found = None
        if kind != ct.VARIABLE and per_entry and per_entry > 0:
            arrivals = d_entries / interval if interval and d_entries > 0 else None
            with contextlib.suppress(ValueError):  # no budget: the baseline is at or above the limit
                found = caps.container_caps(limit, baseline, per_entry, arrivals, "node")
        cap = found["max_entries"] if found else None
        row = DiffRow(key="", count_before=int(ea[i]), count_after=int(ec[i]), bytes_before=int(ra[i]),
                      bytes_after=int(rc[i]), where="", kind="container", suggested_cap=cap,
                      bytes_per_min=d_bytes / minutes if minutes else None,
                      entries_per_min=d_entries / minutes if minutes and kind != ct.VARIABLE else None,
                      bytes_per_entry=round(per_entry, 1) if per_entry and kind != ct.VARIABLE else None,
                      count_middle=int(eb[i]) if eb is not None else None,
                      bytes_middle=int(rb[i]) if rb is not None else None,
                      extras={"container": ct.KIND_NAMES[kind], "entries_estimated": bool(c.estimated[j]),
                              "instances": int(c.instances[j]),
                              "caps": found})
        node = int(c.node[j])
        rows.append((node, row))
        by_node[node] = row
    return rows, by_node


def _most_specific(rows: list[tuple[int, DiffRow]], idom: np.ndarray) -> list[tuple[int, DiffRow]]:
    """One row per growth: when a row's container is dominated by another row's (the entries'
    arrays inside a growing Map, or a variable holding an object that holds the Map), keep the
    inner one only if it explains most (80%) of the outer one's growth, else keep the outer one."""
    nodes = {node: row for node, row in rows}
    drop = set()
    for node, row in rows:
        x, steps = int(idom[node]), 0
        while steps < 64 and x != int(idom[x]):
            outer = nodes.get(x)
            if outer is not None and x not in drop:
                # Many containers at one place inside another (an array per Map entry) are its entries.
                single = row.extras.get("instances", 1) == 1
                if single and row.bytes_growth >= 0.8 * outer.bytes_growth:
                    drop.add(x)
                else:
                    drop.add(node)
                    break
            x, steps = int(idom[x]), steps + 1
    return [(node, row) for node, row in rows if node not in drop]


def _cluster_rows(snap: HeapSnapshot, dom: dominators.Dominators, first: Summary, middle: Summary | None,
                  namer: Namer, container_rows: dict[int, DiffRow], top: int) -> list[DiffRow]:
    ids = snap.node_id
    old = _member(first.ids, ids)
    js = (ids & 1) == 1
    # V8's own objects are no program's growth: compiled code (its deopt data, relocation info, source positions)
    # and hidden system objects appear as a function warms up. A 3.5-minute express server's diff listed 19 rows of
    # "new objects kept by _storeHeader (function _storeHeader)", +1 entry of 4-12 KiB each, all of it code, under
    # its one real leak (a helper's review, 2026-12-08).
    runtime_own = np.isin(snap.node_type, [snap.node_type_code("code"), snap.node_type_code("hidden")])
    leaked = js & ~old & ~runtime_own
    del runtime_own
    if middle is not None:
        leaked &= _member(middle.ids, ids)
    leaked[0] = False
    owner = kernels.owners(dom.order, dom.idom, old)
    size = snap.self_size.astype(np.int64)
    bytes_by_owner = np.bincount(owner[leaked], weights=size[leaked], minlength=snap.node_count)
    roots = leaked & ~leaked[dom.idom]
    roots_by_owner = np.bincount(owner[roots], minlength=snap.node_count)
    del old, size
    candidates = np.flatnonzero(bytes_by_owner >= MIN_CLUSTER_BYTES)
    candidates = candidates[np.argsort(-bytes_by_owner[candidates], kind="stable")][: max(top * 2, 20)]
    method = ("allocated between snapshots 1 and 2 and still alive in 3" if middle is not None
              else "allocated after snapshot 1")
    clusters: dict[str, DiffRow] = {}
    for o in candidates.tolist():
        new_bytes = int(bytes_by_owner[o])
        new_count = int(roots_by_owner[o])
        if o in container_rows:
            row = container_rows[o]
            row.extras["new_objects"] = new_count
            row.extras["new_objects_bytes"] = new_bytes
            row.extras["new_objects_method"] = method
            continue
        if o == 0:
            continue  # kept through several unrelated paths: no single owner to name
        where = namer.describe(o)
        if where in clusters:
            row = clusters[where]
            row.count_after += new_count
            row.bytes_after += new_bytes
            continue
        clusters[where] = DiffRow(key=f"new objects kept by {where.rsplit(' > ', 1)[-1]}", count_before=0,
                                  count_after=new_count, bytes_before=0, bytes_after=new_bytes, where=where,
                                  kind="cluster", extras={"method": method})
    return list(clusters.values())
