"""Compiled loops over a snapshot's arrays (numba): the few passes numpy cannot vectorize.

Each kernel is one linear pass; all are cached on disk after their first compilation.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def reverse_index(n, edge_first, edge_to, edge_type, weak):  # type: ignore[no-untyped-def]
    """Retainers of each node: rev_first (n + 1) and the retaining edge indices, weak edges left out."""
    rev_first = np.zeros(n + 1, dtype=np.int64)
    for e in range(len(edge_to)):
        if edge_type[e] != weak:
            rev_first[edge_to[e] + 1] += 1
    for i in range(n):
        rev_first[i + 1] += rev_first[i]
    rev_edge = np.empty(rev_first[n], dtype=np.int32)
    fill = rev_first[:n].copy()
    for v in range(n):
        for e in range(edge_first[v], edge_first[v + 1]):
            if edge_type[e] != weak:
                w = edge_to[e]
                rev_edge[fill[w]] = e
                fill[w] += 1
    return rev_first, rev_edge


@njit(cache=True, nogil=True)
def distances(n, edge_first, edge_to, edge_type, root, weak, skip_source):  # type: ignore[no-untyped-def]
    """Breadth-first distance from the root over non-weak edges; edges leaving a node with
    skip_source[node] set are not followed (bookkeeping roots that hold objects only for a moment).
    Unreached nodes get a large distance."""
    dist = np.full(n, 1 << 30, dtype=np.int32)
    queue = np.empty(n, dtype=np.int32)
    dist[root] = 0
    queue[0] = root
    head = 0
    tail = 1
    while head < tail:
        v = queue[head]
        head += 1
        if skip_source[v]:
            continue
        d = dist[v] + 1
        for e in range(edge_first[v], edge_first[v + 1]):
            if edge_type[e] == weak:
                continue
            w = edge_to[e]
            if dist[w] > d:
                dist[w] = d
                queue[tail] = w
                tail += 1
    return dist


@njit(cache=True, nogil=True)
def count_edges(n, edge_first, edge_type, code):  # type: ignore[no-untyped-def]
    """How many edges of one type leave each node."""
    out = np.zeros(n, dtype=np.int32)
    for v in range(n):
        c = 0
        for e in range(edge_first[v], edge_first[v + 1]):
            if edge_type[e] == code:
                c += 1
        out[v] = c
    return out


@njit(cache=True, nogil=True)
def named_targets(nodes, edge_first, edge_type, edge_name, edge_to, code, name):  # type: ignore[no-untyped-def]
    """For each given node, the target of its first edge of type `code` named `name`, or -1."""
    out = np.full(len(nodes), -1, dtype=np.int32)
    for i in range(len(nodes)):
        v = nodes[i]
        for e in range(edge_first[v], edge_first[v + 1]):
            if edge_type[e] == code and edge_name[e] == name:
                out[i] = edge_to[e]
                break
    return out


@njit(cache=True, nogil=True)
def owners(order, idom, old):  # type: ignore[no-untyped-def]
    """For each node, its nearest dominator (itself included) that is `old`; the root otherwise.
    `order` is a preorder of the reachable nodes, where each node comes after its dominator."""
    out = np.zeros(len(idom), dtype=np.int32)
    root = order[0]
    out[root] = root
    for i in range(1, len(order)):
        v = order[i]
        out[v] = v if old[v] else out[idom[v]]
    return out


@njit(cache=True, nogil=True)
def edges_of_type_from(nodes, edge_first, edge_type, code):  # type: ignore[no-untyped-def]
    """(position in `nodes`, edge index) of every edge of type `code` leaving the given nodes."""
    total = 0
    for i in range(len(nodes)):
        v = nodes[i]
        for e in range(edge_first[v], edge_first[v + 1]):
            if edge_type[e] == code:
                total += 1
    pos = np.empty(total, dtype=np.int32)
    edges = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(len(nodes)):
        v = nodes[i]
        for e in range(edge_first[v], edge_first[v + 1]):
            if edge_type[e] == code:
                pos[k] = i
                edges[k] = e
                k += 1
    return pos, edges


@njit(cache=True, nogil=True)
def string_hashes(data, starts, ends):  # type: ignore[no-untyped-def]
    """FNV-1a hash of each string's raw JSON text, and whether it is a plain number ("131")."""
    n = len(starts)
    out = np.empty(n, dtype=np.uint64)
    numeric = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        h = np.uint64(14695981039346656037)
        digits = True
        for k in range(starts[i], ends[i]):
            b = data[k]
            h = (h ^ np.uint64(b)) * np.uint64(1099511628211)
            if b != 34 and (b < 48 or b > 57):
                digits = False
        out[i] = h
        numeric[i] = digits and ends[i] - starts[i] > 2
    return out, numeric


@njit(cache=True, nogil=True)
def _mix(h, x):  # type: ignore[no-untyped-def]
    h = (h ^ x) * np.uint64(0x100000001B3)
    return h ^ (h >> np.uint64(29))


@njit(cache=True, nogil=True)
def _source(edge_first, e):  # type: ignore[no-untyped-def]
    lo = 0
    hi = len(edge_first) - 1
    while lo < hi:  # last v with edge_first[v] <= e
        mid = (lo + hi + 1) // 2
        if edge_first[mid] <= e:
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit(cache=True, nogil=True)
def path_keys(nodes, edge_first, edge_to, edge_type, edge_name, rev_first, rev_edge, dist, node_name,  # type: ignore[no-untyped-def]
              str_hash, str_numeric, context_name, is_global, prio, named_type, e_context):
    """A key for each node that is the same for "the same place" in another snapshot of the
    process: a hash of the edge labels (type and name text; indices left out) of its retainer path
    up to its anchor (the closure scope holding it, identified by the names of its variables; the
    global object; or the root). The path rule is that of retainers.Namer.path."""
    out = np.empty(len(nodes), dtype=np.uint64)
    big = 1 << 30
    for i in range(len(nodes)):
        x = nodes[i]
        h = np.uint64(1469598103934665603)
        for _ in range(64):
            if x == 0:
                h = _mix(h, np.uint64(7))
                break
            lo = rev_first[x]
            hi = rev_first[x + 1]
            if lo == hi:
                h = _mix(h, np.uint64(11))
                break
            best = -1
            best_src = -1
            best_score = 1 << 62
            for k in range(lo, hi):
                e = rev_edge[k]
                s = _source(edge_first, e)
                t = edge_type[e]
                d = dist[s]
                scoped = t == e_context and node_name[s] == context_name and d < big
                score = 0 if scoped else d * 8 + prio[t] + 1
                if score < best_score:
                    best_score = score
                    best = e
                    best_src = s
            t = edge_type[best]
            label = np.uint64(t + 1) * np.uint64(0x9E3779B97F4A7C15)
            if named_type[t] and not str_numeric[edge_name[best]]:
                label = label ^ str_hash[edge_name[best]]
            h = _mix(h, label)
            s = best_src
            if t == e_context and node_name[s] == context_name:
                ident = np.uint64(0)
                for e in range(edge_first[s], edge_first[s + 1]):
                    if edge_type[e] == e_context:
                        ident = ident + _mix(np.uint64(3), str_hash[edge_name[e]])  # order-independent
                h = _mix(h, ident)
                break
            if is_global[s]:
                h = _mix(h, np.uint64(5))
                break
            x = s
        out[i] = h
    return out
