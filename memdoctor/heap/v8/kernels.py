"""Compiled loops over a snapshot's arrays (numba): the few passes numpy cannot vectorize.

On a cold start compiling them is most of a diff's cost, so each is written to compile quickly:
one function per job, no helper functions, no numpy constructors inside (each `np.empty`,
`np.full`, `.copy()` is an overload numba types and compiles on its own: the Python wrapper
allocates the outputs and scratch arrays and the kernel only loops), no tuple returns, uint64
constants passed in an array rather than built with `np.uint64(...)`, `error_model="numpy"` (no
exception paths for integer division), no NRT (`_nrt=False`: since nothing is allocated, no
reference counting code) and no C-callable wrapper (`no_cfunc_wrapper`: only Python calls them),
which together take ~6% off the compile, and one type signature each: `compile_all` calls every
kernel once on tiny arrays of exactly the dtypes the parser produces, in the order a diff needs
them, on a thread (`compile_in_background`) while the main thread parses with the kernels already
compiled (compiling holds the GIL, every kernel releases it). Whatever numpy does as fast
(counting edges of a type, finding named edges, owners) is numpy in plain functions here.

All are cached on disk (`cache=True`) after their first compilation.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

from memdoctor.extras import require

require("v8")  # numba: an optional extra (pip install 'memdoctor[v8]'); a one-line error without it

from numba import njit  # noqa: E402

OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}
try:  # the kernels allocate nothing and are only called from Python: no reference counting, no C wrapper
    from numba.core.cpu import CPUTargetOptions

    OPTIONS |= {k: v for k, v in (("_nrt", False), ("no_cfunc_wrapper", True)) if hasattr(CPUTargetOptions, k)}
except ImportError:  # pragma: no cover - another numba layout: its defaults
    pass

# parse_numbers' state: [pending value, its digits, rows done (numbers done once finished), error, field].
ERR_NONE, ERR_WIDE, ERR_BAD, ERR_COUNT, ERR_DIVISOR = 0, 1, 2, 3, 4


@njit(**OPTIONS)
def parse_numbers(buf, state, fmap, divisor, width, types_out, cols):  # type: ignore[no-untyped-def]
    """Parse a flat JSON array of non-negative integers `n,n,...]` from buf (a block of the file),
    scattering field f of each row into types_out (fmap[f] == -2), cols[fmap[f]] (fmap[f] >= 0,
    divided by divisor[fmap[f]], which must divide it) or nowhere (-1). The state carries a
    number cut by the block's end to the next call. Returns the position just after the closing
    `]`, or -1 when the block ended first; an error stops at once (state[3])."""
    value = state[0]
    digits = state[1]
    row = state[2]
    field = state[4]
    rows = len(types_out)
    for i in range(len(buf)):
        c = buf[i]
        if c >= 48 and c <= 57:
            value = value * 10 + (c - 48)
            digits += 1
            continue
        if c == 44 or c == 93:  # ',' or ']'
            if digits == 0:
                if c == 93 and row == 0 and field == 0:
                    return i + 1  # an empty array
                state[3] = ERR_BAD
                return i
            if digits > 10 or value > 0xFFFFFFFF:
                state[3] = ERR_WIDE
                return i
            if row >= rows:
                state[3] = ERR_COUNT
                return i
            f = fmap[field]
            if f == -2:
                types_out[row] = value
            elif f >= 0:
                d = divisor[f]
                if d != 1:
                    q = value // d
                    if q * d != value:
                        state[3] = ERR_DIVISOR
                        return i
                    value = q
                cols[f, row] = value
            field += 1
            if field == width:
                field = 0
                row += 1
            value = 0
            digits = 0
            if c == 93:
                state[0] = 0
                state[1] = 0
                state[2] = row * width + field
                return i + 1
            continue
        if c == 32 or c == 10 or c == 13 or c == 9:
            if digits > 0:
                # a blank inside a number ("1 2") is not JSON; after one ("1 ,") it is
                j = i + 1
                while j < len(buf) and (buf[j] == 32 or buf[j] == 10 or buf[j] == 13 or buf[j] == 9):
                    j += 1
                if j < len(buf) and buf[j] >= 48 and buf[j] <= 57:
                    state[3] = ERR_BAD
                    return i
            continue
        state[3] = ERR_BAD
        return i
    state[0] = value
    state[1] = digits
    state[2] = row
    state[4] = field
    return -1


@njit(**OPTIONS)
def _retainers(edge_first, edge_to, edge_type, weak, root, skip_source,  # type: ignore[no-untyped-def]
               rev_first, rev_edge, fill, dist):
    # The reverse index (counting sort of the non-weak edges by target)...
    n = len(edge_first) - 1
    for i in range(n + 1):
        rev_first[i] = 0
    for e in range(len(edge_to)):
        if edge_type[e] != weak:
            rev_first[edge_to[e] + 1] += 1
    for i in range(n):
        rev_first[i + 1] += rev_first[i]
        fill[i] = rev_first[i]
    for v in range(n):
        for e in range(edge_first[v], edge_first[v + 1]):
            if edge_type[e] != weak:
                w = edge_to[e]
                rev_edge[fill[w]] = e
                fill[w] += 1
    # ... then breadth-first distances, the queue in `fill` (free again).
    if len(dist) == 0:
        return rev_first[n]
    for i in range(n):
        dist[i] = 1 << 30
    dist[root] = 0
    fill[0] = root
    head = 0
    tail = 1
    while head < tail:
        v = fill[head]
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
                fill[tail] = w
                tail += 1
    return rev_first[n]


def retainers(n: int, edge_first: np.ndarray, edge_to: np.ndarray, edge_type: np.ndarray, weak: int, root: int,
              skip_source: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Retainers of each node: rev_first (n + 1) and the retaining edge indices (by source, then
    edge order), weak edges left out; and, unless skip_source is None, the breadth-first distance
    from the root over non-weak edges (int32), where edges leaving a node with skip_source[node]
    set are not followed (bookkeeping roots that hold objects only for a moment) and unreached
    nodes get a large distance. One kernel for both: one compilation."""
    _wait("retainers")
    rev_first = np.empty(n + 1, dtype=np.int64)
    rev_edge = np.empty(len(edge_to), dtype=np.int32)  # pages past the end stay unused: not resident
    dist = np.empty(n if skip_source is not None else 0, dtype=np.int32)
    skip = skip_source if skip_source is not None else np.zeros(1, dtype=np.bool_)
    total = _retainers(edge_first, edge_to, edge_type, weak, root, skip, rev_first, rev_edge,
                       np.empty(n, dtype=np.int64), dist)
    return rev_first, rev_edge[:total], (dist if skip_source is not None else None)


def reverse_index(n: int, edge_first: np.ndarray, edge_to: np.ndarray, edge_type: np.ndarray,
                  weak: int) -> tuple[np.ndarray, np.ndarray]:
    """retainers() without the distances."""
    rev_first, rev_edge, _ = retainers(n, edge_first, edge_to, edge_type, weak, 0, None)
    return rev_first, rev_edge


@njit(**OPTIONS)
def _dominators(edge_first, edge_to, edge_type, rev_first, rev_edge, self_size, root, weak,  # type: ignore[no-untyped-def]
                shortcut, src, dfnum, vertex, parent, semi, stack_edge, label, ancestor, path, retained):
    n = len(edge_first) - 1
    for v in range(n):
        for e in range(edge_first[v], edge_first[v + 1]):
            src[e] = v
        dfnum[v] = -1
    # Iterative depth-first search: a stack of (node, next edge); `semi` holds the stack's nodes.
    dfnum[root] = 0
    vertex[0] = root
    parent[0] = 0
    count = 1
    semi[0] = root
    stack_edge[0] = edge_first[root]
    top = 1
    while top > 0:
        v = semi[top - 1]
        e = stack_edge[top - 1]
        end = edge_first[v + 1]
        pushed = False
        while e < end:
            w = edge_to[e]
            t = edge_type[e]
            e += 1
            if dfnum[w] < 0 and t != weak and (t != shortcut or v == root):
                stack_edge[top - 1] = e
                dfnum[w] = count
                vertex[count] = w
                parent[count] = dfnum[v]
                count += 1
                semi[top] = w
                stack_edge[top] = edge_first[w]
                top += 1
                pushed = True
                break
        if not pushed:
            top -= 1
    # (label and ancestor share the stack's edge array, free from here on)
    for i in range(count):
        semi[i] = i
        label[i] = i
        ancestor[i] = -1
    # Semidominators in reverse preorder, with Lengauer-Tarjan's eval (path compression) over
    # the forest of nodes already done (linked to their parents).
    for w in range(count - 1, 0, -1):
        node = vertex[w]
        for k in range(rev_first[node], rev_first[node + 1]):
            e = rev_edge[k]
            s = src[e]
            if edge_type[e] == shortcut and s != root:
                continue
            x = dfnum[s]
            if x < 0:
                continue
            if ancestor[x] >= 0:  # eval(x): compress the path to the forest's root
                depth = 0
                y = x
                while ancestor[ancestor[y]] >= 0:
                    path[depth] = y
                    depth += 1
                    y = ancestor[y]
                for i in range(depth - 1, -1, -1):
                    y = path[i]
                    a = ancestor[y]
                    if semi[label[a]] < semi[label[y]]:
                        label[y] = label[a]
                    ancestor[y] = ancestor[a]
                x = label[x]
            if semi[x] < semi[w]:
                semi[w] = semi[x]
        ancestor[w] = parent[w]  # link(parent, w)
    # Immediate dominators from the semidominators (semi-NCA): in preorder, the idom of w is the
    # nearest ancestor of its parent in the dominator tree whose preorder number is <= semi(w).
    idom = label  # free again
    idom[0] = 0
    for w in range(1, count):
        d = parent[w]
        while d > semi[w]:
            d = idom[d]
        idom[w] = d
    # Sizes (into `retained`, which shares `src`'s memory: src is not read from here on). Nodes the
    # essential edges do not reach are dominated by the root.
    extra = 0
    for v in range(n):
        retained[v] = self_size[v]
    for v in range(n):
        if dfnum[v] < 0:
            extra += retained[v]
    out = parent  # free again: the immediate dominators in node numbers
    for v in range(n):
        out[v] = root
    for w in range(count - 1, 0, -1):
        v = vertex[w]
        d = vertex[idom[w]]
        out[v] = d
        retained[d] += retained[v]
    retained[root] += extra
    return count


def dominators(n: int, edge_first: np.ndarray, edge_to: np.ndarray, edge_type: np.ndarray, rev_first: np.ndarray,
               rev_edge: np.ndarray, self_size: np.ndarray, root: int, weak: int,
               shortcut: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Immediate dominators (node numbers; the root's is itself), a depth-first preorder of the
    reachable nodes and retained sizes, over the essential edges (not weak; shortcut only from the
    root): semidominators as in the "simple" Lengauer-Tarjan (path compression without
    balancing), immediate dominators by semi-NCA (no buckets), all iterative. See dominators.py."""
    _wait("dominators")
    src = np.empty(max(len(edge_to) + len(edge_to) % 2, 2 * n), dtype=np.int32)  # also `retained` (int64) later
    stack_edge = np.empty(n, dtype=np.int64)
    shared = stack_edge.view(np.int32)
    vertex = np.empty(n, dtype=np.int32)
    parent = np.empty(n, dtype=np.int32)
    count = _dominators(edge_first, edge_to, edge_type, rev_first, rev_edge, self_size, root, weak, shortcut,
                        src, np.empty(n, dtype=np.int32), vertex, parent, np.empty(n, dtype=np.int32), stack_edge,
                        shared[:n], shared[n:], np.empty(n, dtype=np.int32), src.view(np.int64)[:n])
    del stack_edge, shared
    return parent, vertex[:count], src.view(np.int64)[:n]


def distances(n: int, edge_first: np.ndarray, edge_to: np.ndarray, edge_type: np.ndarray, root: int, weak: int,
              skip_source: np.ndarray) -> np.ndarray:
    """The distances of retainers() alone."""
    dist = retainers(n, edge_first, edge_to, edge_type, weak, root, skip_source)[2]
    assert dist is not None
    return dist


@njit(**OPTIONS)
def _path_keys(nodes, edge_first, edge_type, edge_name, rev_first, rev_edge, dist,  # type: ignore[no-untyped-def]
               node_name, str_data, str_start, str_end, context_name, is_global, prio, named_type, e_context,
               k, type_label, out):
    # k: the uint64 constants [FNV offset, FNV prime, mix prime, mix shift, 3, 5, 7, 11, 0, path offset]
    big = 1 << 30
    for i in range(len(nodes)):
        x = nodes[i]
        h = k[9]
        for _ in range(64):
            if x == 0:
                h = (h ^ k[6]) * k[2]
                h = h ^ (h >> k[3])
                break
            lo = rev_first[x]
            hi = rev_first[x + 1]
            if lo == hi:
                h = (h ^ k[7]) * k[2]
                h = h ^ (h >> k[3])
                break
            best = -1
            best_src = -1
            best_score = 1 << 62
            for r in range(lo, hi):
                e = rev_edge[r]
                # the source of e: the last v with edge_first[v] <= e
                a = 0
                z = len(edge_first) - 1
                while a < z:
                    mid = (a + z + 1) // 2
                    if edge_first[mid] <= e:
                        a = mid
                    else:
                        z = mid - 1
                t = edge_type[e]
                d = dist[a]
                scoped = t == e_context and node_name[a] == context_name and d < big
                score = 0 if scoped else d * 8 + prio[t] + 1
                if score < best_score:
                    best_score = score
                    best = e
                    best_src = a
            t = edge_type[best]
            label = type_label[t]
            s = best_src
            context = t == e_context and node_name[s] == context_name
            # The name of the edge (a variable, a property; not a number), or, at a closure scope,
            # the names of all its variables (order-independent): hashed from their JSON text.
            first = best
            last = best + 1
            if context:
                first = edge_first[s]
                last = edge_first[s + 1]
            ident = k[8]
            for e in range(first, last):
                variable = context and edge_type[e] == e_context
                if not variable and (e != best or not named_type[t]):
                    continue
                j = edge_name[e]
                sh = k[0]
                numeric = str_end[j] - str_start[j] > 2
                for q in range(str_start[j], str_end[j]):
                    c = str_data[q]
                    sh = (sh ^ c) * k[1]
                    if c != 34 and (c < 48 or c > 57):
                        numeric = False
                if variable:
                    m = (k[4] ^ sh) * k[2]
                    ident = ident + (m ^ (m >> k[3]))
                if e == best and named_type[t] and not numeric:
                    label = label ^ sh
            h = (h ^ label) * k[2]
            h = h ^ (h >> k[3])
            if context:
                h = (h ^ ident) * k[2]
                h = h ^ (h >> k[3])
                break
            if is_global[s]:
                h = (h ^ k[5]) * k[2]
                h = h ^ (h >> k[3])
                break
            x = s
        out[i] = h
    return len(nodes)


PATH_CONSTANTS = np.array([14695981039346656037, 1099511628211, 0x100000001B3, 29, 3, 5, 7, 11, 0,
                           1469598103934665603], dtype=np.uint64)


def path_keys(nodes: np.ndarray, edge_first: np.ndarray, edge_type: np.ndarray, edge_name: np.ndarray,
              rev_first: np.ndarray, rev_edge: np.ndarray, dist: np.ndarray, node_name: np.ndarray,
              str_data: np.ndarray, str_start: np.ndarray, str_end: np.ndarray, context_name: int,
              is_global: np.ndarray, prio: np.ndarray, named_type: np.ndarray, e_context: int) -> np.ndarray:
    """A key for each node that is the same for "the same place" in another snapshot of the
    process: a hash of the edge labels (type and name text; indices left out) of its retainer path
    up to its anchor (the closure scope holding it, identified by the names of its variables; the
    global object; or the root). The path rule is that of retainers.Namer.path. A name's text is
    hashed (FNV-1a over its JSON text, str_data[str_start[i]:str_end[i]]) where it is used; a name
    that is a plain number ("131", a slot) is left out like an index."""
    _wait("path_keys")
    with np.errstate(over="ignore"):
        type_label = (np.arange(1, len(prio) + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)).astype(np.uint64)
    out = np.empty(len(nodes), dtype=np.uint64)
    _path_keys(nodes, edge_first, edge_type, edge_name, rev_first, rev_edge, dist, node_name, str_data, str_start,
               str_end, context_name, is_global, prio, named_type, e_context, PATH_CONSTANTS, type_label, out)
    return out


# --- what numpy does as fast -------------------------------------------------------------------

def count_edges(n: int, edge_first: np.ndarray, edge_type: np.ndarray, code: int) -> np.ndarray:
    """How many edges of one type leave each node (int32)."""
    if code < 0 or len(edge_type) == 0:
        return np.zeros(n, dtype=np.int32)
    csum = np.zeros(len(edge_type) + 1, dtype=np.int32 if len(edge_type) < 2**31 - 1 else np.int64)
    np.cumsum((edge_type == code).view(np.int8), out=csum[1:])  # (a bool input takes numpy's slow casting path)
    return (csum[edge_first[1:]] - csum[edge_first[:-1]]).astype(np.int32)


def edges_of_type_from(nodes: np.ndarray, edge_first: np.ndarray, edge_type: np.ndarray,
                       code: int) -> tuple[np.ndarray, np.ndarray]:
    """(position in `nodes`, edge index) of every edge of type `code` leaving the given nodes,
    in the order of `nodes`, then of the edges."""
    nodes = np.asarray(nodes, dtype=np.int64)
    lo, hi = edge_first[nodes], edge_first[nodes + 1]
    lengths = hi - lo
    pos = np.repeat(np.arange(len(nodes), dtype=np.int32), lengths)
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    edges = starts + np.arange(len(pos), dtype=np.int64)
    keep = edge_type[edges] == code
    return pos[keep], edges[keep]


def count_edges_of(nodes: np.ndarray, edge_first: np.ndarray, edge_type: np.ndarray, code: int) -> np.ndarray:
    """count_edges for some nodes only (int32, one per node): through their own edges when they
    have few of all, else through count_edges."""
    nodes = np.asarray(nodes, dtype=np.int64)
    total = int((edge_first[nodes + 1] - edge_first[nodes]).sum())
    if total > len(edge_type) // 4:
        return count_edges(len(edge_first) - 1, edge_first, edge_type, code)[nodes]
    pos, _ = edges_of_type_from(nodes, edge_first, edge_type, code)
    return np.bincount(pos, minlength=len(nodes)).astype(np.int32)


def named_targets(nodes: np.ndarray, edge_first: np.ndarray, edge_type: np.ndarray, edge_name: np.ndarray,
                  edge_to: np.ndarray, code: int, name: int) -> np.ndarray:
    """For each given node, the target of its first edge of type `code` named `name`, or -1."""
    out = np.full(len(nodes), -1, dtype=np.int32)
    if len(nodes) == 0 or name < 0 or code < 0:
        return out
    hits = np.flatnonzero(edge_name == name)
    hits = hits[edge_type[hits] == code]
    sources = np.searchsorted(edge_first, hits, side="right") - 1
    first = np.concatenate(([True], sources[1:] != sources[:-1])) if len(hits) else np.zeros(0, dtype=np.bool_)
    sources, hits = sources[first], hits[first]
    nodes = np.asarray(nodes, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sources, nodes), max(len(sources) - 1, 0))
    found = (sources[pos] == nodes) if len(sources) else np.zeros(len(nodes), dtype=np.bool_)
    out[found] = edge_to[hits[pos[found]]]
    return out


def owners(order: np.ndarray, idom: np.ndarray, old: np.ndarray) -> np.ndarray:
    """For each node, its nearest dominator (itself included) that is `old`; the root otherwise
    (and for nodes not in `order`, the reachable nodes in a preorder whose first is the root)."""
    root = int(order[0])
    n = len(idom)
    reached = np.zeros(n, dtype=np.bool_)
    reached[order] = True
    node = np.arange(n, dtype=np.int32)
    stop = old | ~reached
    stop[root] = True
    up = np.where(stop, node, idom).astype(np.int32)
    up[~reached] = root
    # Pointer doubling over the nodes not yet at a stop: each round halves their distance to it.
    active = np.flatnonzero(~stop[up])
    while len(active):
        up[active] = up[up[active]]
        active = active[~stop[up[active]]]
    return up


# --- compiling ahead of need -------------------------------------------------------------------

KERNELS = ("parse_numbers", "retainers", "dominators", "path_keys")  # in the order a diff first needs them
COMPILER_THREAD = "memdoctor-numba-compile"
SWITCH_INTERVAL = 0.0005  # s, while compiling on a thread (see compile_in_background)
_ready: dict[str, threading.Event] = {}  # while a thread compiles: set once each kernel is compiled


def _wait(kernel: str) -> None:
    """Wait until the compiling thread has compiled `kernel` (at once when no thread compiles).
    Calling a kernel still being compiled would wait on numba's compiler lock instead, and the
    thread takes that lock again for the next kernel before the waiting caller gets it: the caller
    would wait for one compilation more than it needs."""
    event = _ready.get(kernel)
    if event is not None and threading.current_thread().name != COMPILER_THREAD:
        event.wait()


def wait_for_parse_numbers() -> None:
    _wait("parse_numbers")


def compile_all() -> None:
    """Compile every kernel (or load it from numba's cache) by calling it on tiny arrays of the
    dtypes the parser produces, in the order a diff first needs them, announcing each (to _wait)
    as soon as it is compiled, and all of them when this ends, compiled or not (a caller then
    compiles what is left itself)."""
    try:
        u8 = np.array([0, 1, 2], dtype=np.uint8)
        edge_first = np.array([0, 2, 3, 3], dtype=np.int64)
        edge_to = np.array([1, 2, 2], dtype=np.int32)
        u32 = np.zeros(3, dtype=np.uint32)
        state = np.zeros(5, dtype=np.int64)
        parse_numbers(np.frombuffer(b"1,2,3]", dtype=np.uint8), state, np.array([-2, 0, 1], dtype=np.int64),
                      np.ones(2, dtype=np.int64), 3, np.zeros(1, dtype=np.uint8), np.zeros((2, 1), dtype=np.uint32))
        _announce("parse_numbers")
        rev_first, rev_edge, dist = retainers(3, edge_first, edge_to, u8, 6, 0, np.zeros(3, dtype=np.bool_))
        _announce("retainers")
        dominators(3, edge_first, edge_to, u8, rev_first, rev_edge, u32, 0, 6, 5)
        _announce("dominators")
        path_keys(np.array([2], dtype=np.int32), edge_first, u8, u32, rev_first, rev_edge, dist, u32,
                  np.frombuffer(b'"a"', dtype=np.uint8), np.zeros(1, dtype=np.int32), np.full(1, 3, dtype=np.int32),
                  0, np.zeros(3, dtype=np.bool_), np.zeros(7, dtype=np.int64), np.ones(7, dtype=np.bool_), 0)
    finally:
        for name in KERNELS:
            _announce(name)


def _announce(kernel: str) -> None:
    event = _ready.get(kernel)
    if event is not None:
        event.set()


def compile_in_background() -> threading.Thread:
    """compile_all() on a thread. Compiling holds the GIL most of the time, the kernels do not:
    the caller runs the kernels compiled so far meanwhile, and a call to one not compiled yet
    waits until the thread has compiled it (see _wait). While the thread runs, the interpreter's
    switch interval is 0.5 ms instead of 5: the caller gives the GIL up at every kernel call, file
    read and large numpy operation, and would otherwise wait up to 5 ms each time to get it back
    from the compiling thread (~0.5 s over the blocks of a 300 MB snapshot)."""
    for name in KERNELS:
        _ready[name] = threading.Event()
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, SWITCH_INTERVAL))

    def run() -> None:
        try:
            compile_all()
        finally:
            sys.setswitchinterval(previous)

    thread = threading.Thread(target=run, name=COMPILER_THREAD, daemon=True)
    thread.start()
    return thread
