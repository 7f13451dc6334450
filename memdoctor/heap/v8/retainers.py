"""Retainer paths from GC roots to a node, named the way a person would say them.

`module dialogs.js > ongoingDialogues (Map)`,
`module cache.js > closure loadProfile > profileCache (Object used as map)`,
`module feed.js > priceFeed (EventEmitter) > _events > price (Array of listeners)`.

How a path is chosen: breadth-first distances from the root over non-weak edges (weak edges
never retain), not following the bookkeeping roots that hold objects only while the snapshot
is taken ("(Handle scope)", "(Strong roots)"). From the node we walk to a retainer closer to
the root, preferring a closure variable, then a property, an element, an internal slot. The walk
stops at the first *anchor* a person knows: a closure context (a module's top-level scope or a
function's captured variables) or the global object. Everything between the GC roots and the
anchor (timers, handles, caches of the runtime) is how the anchor is kept alive and is left out.

What is never printed: the content of any string in the heap; keys of Maps and Sets (their
entries are reached through internal table slots, shown as `[entry]`); keys of objects used as
maps (many properties, or a key that is not an identifier: e-mails, ids, tokens), shown as
`[key]`. Property names of ordinary objects, variable names, function names, class names and
script file names are code, and are printed.
"""

from __future__ import annotations

import os
import re

import numpy as np

from memdoctor.heap.v8 import kernels
from memdoctor.heap.v8.parser import HeapSnapshot

IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,63}\Z")
# A path step `name (Type)` whose Type is a class's name (a constructor: capitalised by convention).
INSTANCE_STEP = re.compile(r"[A-Za-z_$][\w$]* \(([A-Z][\w$]{0,63})\)\Z")
# A bare path step that is a class (a capitalised name: `module x.js > BatchWriter > pending`).
CLASS_STEP = re.compile(r"([A-Z][\w$]{0,63})\Z")
# Built-in types that say nothing about the code that owns a property.
GENERIC_TYPES = frozenset({"Object", "Array", "Map", "Set", "WeakMap", "WeakSet", "Promise", "Error"})
MAP_LIKE_MIN_PROPERTIES = 32
SKIPPED_ROOTS = ("(Handle scope)", "(Strong roots)", "(Internalized strings)", "(External strings)",
                 "(Read-only roots)", "(Compilation cache)", "(Bootstrapper)", "(Relocatable)")
PRIORITY = {"context": 0, "property": 1, "element": 2, "internal": 3, "hidden": 4, "shortcut": 5}
TRANSPARENT_INTERNAL = {"elements", "properties", "table", "context", "feedback_cell", "shared", "value"}
MAX_STEPS = 64


# The label of an EventEmitter's array of handlers for one event (`emitter._events[event]`): the report gives its
# fix (remove the handlers) instead of a cache's size bound (report_data._suspect_caps).
LISTENERS_LABEL = "Array of listeners"


class RetainerIndex:
    """Who retains each node, and how far each node is from the roots."""

    def __init__(self, snap: HeapSnapshot) -> None:
        self.snap = snap
        weak = snap.edge_type_code("weak")
        skip = np.zeros(snap.node_count, dtype=np.bool_)
        synthetic = snap.node_type_code("synthetic")
        for name in SKIPPED_ROOTS:
            idx = snap.strings.find(name)
            if idx >= 0:
                skip |= (snap.node_name == idx) & (snap.node_type == synthetic)
        self.rev_first, self.rev_edge, dist = kernels.retainers(snap.node_count, snap.edge_first, snap.edge_to,
                                                                snap.edge_type, weak, 0, skip)
        assert dist is not None
        self.dist = dist
        # The bookkeeping roots themselves are never the way a path goes.
        self.dist[skip] = 1 << 30
        del skip

    def source(self, edge: int) -> int:
        return int(np.searchsorted(self.snap.edge_first, edge, side="right")) - 1

    def retainers(self, node: int) -> list[tuple[int, int]]:
        """(edge, source) pairs of the non-weak edges that point at a node."""
        edges = self.rev_edge[self.rev_first[node]:self.rev_first[node + 1]]
        sources = np.searchsorted(self.snap.edge_first, edges, side="right") - 1
        return list(zip(edges.tolist(), sources.tolist(), strict=True))


def script_label(name: str) -> str:
    """A script as a retainer path names it: its file name, or for a dependency the package and the
    file inside it (`/app/node_modules/express-session/session/memory.js` ->
    `express-session/session/memory.js`): a bare `index.js` does not say whose code holds the leak."""
    if not name.startswith(("/", "file://")):
        return name  # node:internal/..., a URL, eval code: already says what it is
    parts = [p for p in name.removeprefix("file://").split("/") if p]
    if "node_modules" in parts[:-1]:
        inner = len(parts) - 1 - parts[::-1].index("node_modules")  # the innermost package owns the file
        scoped = inner + 1 < len(parts) and parts[inner + 1].startswith("@")
        return "/".join(parts[inner + 1:]) if len(parts) > inner + (3 if scoped else 2) else parts[-1]
    return os.path.basename(name.rstrip("/")) or name


class Namer:
    """Turns nodes into human names and retainer paths (never printing heap values)."""

    def __init__(self, snap: HeapSnapshot, index: RetainerIndex) -> None:
        self.snap = snap
        self.index = index
        s = snap.strings
        self.context_name = s.find("system / Context")
        self.native_context_name = s.find("system / NativeContext")
        self.object_name = s.find("Object")
        self.names = {n: s.find(n) for n in ("previous", "shared", "script_or_debug_info", "script", "context",
                                             "_events", "elements", "table")}
        self.t_object = snap.node_type_code("object")
        self.t_closure = snap.node_type_code("closure")
        self.t_hidden = snap.node_type_code("hidden")
        self.e = {name: snap.edge_type_code(name) for name in PRIORITY}
        self.e_internal = snap.edge_type_code("internal")
        self._prop_counts: dict[int, int] = {}
        self._anchor_cache: dict[int, str] = {}
        self._code_names: np.ndarray | None = None

    # --- what a node is -------------------------------------------------------------------------
    def is_context(self, node: int) -> bool:
        return int(self.snap.node_name[node]) == self.context_name

    def is_global(self, node: int) -> bool:
        if int(self.snap.node_type[node]) != self.t_object:
            return False
        name = self.snap.node_name_text(node)
        return name == "global" or name.startswith(("global /", "Window"))

    def property_count(self, node: int) -> int:
        if node not in self._prop_counts:
            edges = self.snap.edges_of(node)
            types = self.snap.edge_type[edges.start:edges.stop]
            self._prop_counts[node] = int(np.count_nonzero(types == self.e["property"]))
        return self._prop_counts[node]

    def code_names(self) -> np.ndarray:
        """For each string of the snapshot, whether compiled code holds it as a constant: an `internal`
        edge from a code node (constant pools, object literal boilerplates). Those are the names the
        program spells in its source. A key an object got at run time (a session token, a user id) is
        held by no code constant; inline caches do hold it, through `hidden` edges from feedback
        vectors and handlers, which are not counted (measured on Node 20 snapshots)."""
        if self._code_names is None:
            snap = self.snap
            code = snap.node_type_code("code")
            strings = [snap.node_type_code(t) for t in ("string", "concatenated string", "sliced string")]
            sources = snap.edge_sources()
            feedback = snap.strings.find("system / FeedbackVector")
            held = ((snap.node_type[sources] == code) & (snap.edge_type == self.e_internal)
                    & (snap.node_name[sources] != feedback))
            targets = snap.edge_to[held]
            targets = targets[np.isin(snap.node_type[targets], [t for t in strings if t >= 0])]
            names = np.zeros(len(snap.strings), dtype=np.bool_)
            names[snap.node_name[targets]] = True
            self._code_names = names
        return self._code_names

    def is_run_time_key(self, source: int, name_id: int) -> bool:
        """A property of a plain Object that no code names: data used as a key, whatever the object's size
        (objects used as maps with fewer than MAP_LIKE_MIN_PROPERTIES keys are not is_map_like)."""
        return int(self.snap.node_name[source]) == self.object_name and not bool(self.code_names()[name_id])

    def is_map_like(self, node: int) -> bool:
        """A plain object used as a dictionary: its keys are data, not names."""
        return (int(self.snap.node_type[node]) == self.t_object and int(self.snap.node_name[node]) == self.object_name
                and self.property_count(node) >= MAP_LIKE_MIN_PROPERTIES)

    def type_label(self, node: int, via_events: bool = False) -> str:
        snap = self.snap
        kind = snap.node_types[int(snap.node_type[node])]
        if kind == "object":
            name = snap.node_name_text(node)
            if int(snap.node_name[node]) == self.context_name:
                return "closure scope"
            if self.is_map_like(node):
                return "Object used as map"
            if via_events and name == "Array":
                return LISTENERS_LABEL
            return name if name and not name.startswith("system /") else "object"
        if kind == "closure":
            name = snap.node_name_text(node)
            return f"function {name}" if IDENTIFIER.match(name or "") else "function"
        if kind in ("string", "concatenated string", "sliced string"):
            return "string"
        if kind in ("code", "hidden", "array", "synthetic", "native"):
            name = snap.node_name_text(node)
            return name if name.startswith(("system /", "(")) else kind
        return kind

    # --- anchors --------------------------------------------------------------------------------
    def _edge_target(self, node: int, name: int, edge_type: int | None = None) -> int:
        snap = self.snap
        for e in snap.edges_of(node):
            if int(snap.edge_name[e]) == name and (edge_type is None or int(snap.edge_type[e]) == edge_type):
                return int(snap.edge_to[e])
        return -1

    def _script_of_closure(self, closure: int) -> str | None:
        shared = self._edge_target(closure, self.names["shared"], self.e_internal)
        if shared < 0:
            return None
        for key in ("script_or_debug_info", "script"):
            if self.names[key] >= 0:
                script = self._edge_target(shared, self.names[key], self.e_internal)
                if script >= 0:
                    name = self.snap.node_name_text(script)
                    if name and not name.startswith("system /"):
                        return script_label(name)
        return None

    def context_label(self, ctx: int) -> str:
        """`module x.js` for a module's top-level scope, `module x.js > closure f` for a function's."""
        if ctx in self._anchor_cache:
            return self._anchor_cache[ctx]
        snap = self.snap
        closures = [src for e, src in self.index.retainers(ctx)
                    if int(snap.node_type[src]) == self.t_closure and int(snap.edge_name[e]) == self.names["context"]]
        script = None
        for c in closures[:8]:
            script = self._script_of_closure(c)
            if script:
                break
        previous = self._edge_target(ctx, self.names["previous"], self.e_internal)
        top_level = previous < 0 or int(snap.node_name[previous]) == self.native_context_name
        module = f"module {script}" if script else "a module"
        if top_level:
            label = module
        else:
            names = sorted({snap.node_name_text(c) for c in closures if IDENTIFIER.match(snap.node_name_text(c) or "")})
            label = f"{module} > closure {names[0]}" if names else f"{module} > closure"
        self._anchor_cache[ctx] = label
        return label

    # --- paths ----------------------------------------------------------------------------------
    def path(self, node: int) -> list[tuple[int, int]]:
        """(edge, node) steps from an anchor (or the root) down to `node`; edge -1 for the start."""
        snap, index = self.snap, self.index
        steps: list[tuple[int, int]] = []
        seen = {node}
        x = node
        for _ in range(MAX_STEPS):
            if x == 0:
                break
            if self.is_global(x) and steps:
                break
            lo, hi = index.rev_first[x], index.rev_first[x + 1]
            if lo == hi:
                break
            edges = index.rev_edge[lo:hi]
            sources = np.searchsorted(snap.edge_first, edges, side="right") - 1
            prio = np.array([PRIORITY.get(snap.edge_types[t], 6) for t in snap.edge_type[edges]], dtype=np.int64)
            dist = index.dist[sources].astype(np.int64)
            # A variable of a reachable closure scope names the node best, whatever its distance.
            scoped = (prio == 0) & (snap.node_name[sources] == self.context_name) & (dist < (1 << 30))
            score = np.where(scoped, 0, dist * 8 + prio + 1)
            best = int(np.argmin(score))
            e, s = int(edges[best]), int(sources[best])
            if s in seen:
                break
            seen.add(s)
            steps.append((e, x))
            x = s
            if int(snap.edge_type[e]) == self.e["context"] and self.is_context(s):
                break
        steps.append((-1, x))
        steps.reverse()
        return steps

    def _step_name(self, edge: int, source: int) -> str | None:
        snap = self.snap
        kind = snap.edge_types[int(snap.edge_type[edge])]
        if kind == "context":
            name = snap.strings[int(snap.edge_name[edge])]
            return name if IDENTIFIER.match(name) else "[variable]"
        if kind == "property":
            name_id = int(snap.edge_name[edge])
            name = snap.strings[name_id]
            if (self.is_map_like(source) or not (IDENTIFIER.match(name) or name.startswith("<symbol "))
                    or self.is_run_time_key(source, name_id)):
                return "[key]"
            return name
        if kind == "element":
            if int(snap.node_type[source]) == snap.node_type_code("synthetic"):
                return None
            return "[]"
        if kind == "internal":
            src_name = snap.node_name_text(source) if int(snap.node_type[source]) == self.t_object else ""
            name = snap.strings[int(snap.edge_name[edge])]
            if name in TRANSPARENT_INTERNAL:
                return None
            if name.isdigit():  # a slot of a Map/Set table or of a backing store: the entry, never its key
                return "[entry]" if src_name in ("Map", "Set") or self._is_table(source) else "[]"
            return None
        return None

    def _is_table(self, node: int) -> bool:
        for e, _ in self.index.retainers(node)[:4]:
            kind = self.snap.edge_types[int(self.snap.edge_type[e])]
            if int(self.snap.edge_name[e]) == self.names["table"] and kind == "internal":
                return True
        return False

    def describe(self, node: int) -> str:
        """The whole path: `module x.js > var (Type) > prop > ... > last (Type)`."""
        steps = self.path(node)
        snap = self.snap
        parts: list[str] = []
        start = steps[0][1]
        if self.is_context(start):
            parts.append(self.context_label(start))
        elif self.is_global(start):
            parts.append("global")
        elif start == 0 or int(snap.node_type[start]) == snap.node_type_code("synthetic"):
            first_named = next((t for _, t in steps[1:] if int(snap.node_type[t]) == snap.node_type_code("synthetic")),
                               None)
            parts.append(snap.node_name_text(first_named) if first_named is not None else "(GC roots)")
        else:
            parts.append(self.type_label(start))
        prev = start
        via_events = False
        for i, (edge, target) in enumerate(steps[1:], 1):
            name = self._step_name(edge, prev)
            last = i == len(steps) - 1
            if name is None and not last:
                prev = target
                continue
            if last and self.is_global(target):
                # The global object itself grows (`globalThis[key] = ...`): the path from the GC roots to it
                # says nothing; its properties are data, counted, never named.
                return "globalThis (global object)"
            label = self.type_label(target, via_events)
            show_type = last or (int(snap.node_type[target]) == self.t_object and label not in ("Object", "object",
                                                                                                   "Array"))
            if name == "[]" and parts:
                parts[-1] += f"[] ({label})" if last else "[]"
            elif name:
                parts.append(f"{name} ({label})" if show_type else name)
            else:
                parts.append(f"({label})")
            via_events = name == "_events"
            prev = target
        return " > ".join(p for p in parts if p)

    def short(self, node: int, described: str | None = None) -> str:
        """The last part of the path: `ongoingDialogues (Map)`; a property of an instance of a class is
        named with its class, as the code spells it: `BatchWriter.pending (Array)` (the path
        `... > writer (BatchWriter) > pending (Array)` or `... > BatchWriter > pending (Array)`; before,
        only `pending (Array)`)."""
        parts = (described if described is not None else self.describe(node)).split(" > ")
        if len(parts) >= 2:
            owner = INSTANCE_STEP.match(parts[-2]) or CLASS_STEP.match(parts[-2])
            if owner and owner.group(1) not in GENERIC_TYPES:
                return f"{owner.group(1)}.{parts[-1]}"
        return parts[-1]
