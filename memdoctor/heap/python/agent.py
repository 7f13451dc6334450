"""memdoctor's heap agent: runs INSIDE the target interpreter and writes one heap snapshot.

This file is executed in a process that is not ours, so it follows strict rules:
- standard library only (the target cannot be assumed to import memdoctor), and syntax that
  Python 3.7 still parses (no walrus, no match, annotations only as strings);
- it never writes the contents of strings or values: type names, module/class/attribute names,
  counts and sizes only. Keys of dicts are values (ids, emails, tokens) and are never written;
  attribute and global names are kept only when they are identifiers;
- it is bounded: the deep size of a container is measured on a sample of its entries and
  extrapolated (see `_deep_size`), so the pause stays short on big heaps;
- it leaves nothing behind: no module-level state in the target, temporary lists freed, glibc
  asked to return the memory it used (ctypes stays imported after the first snapshot).

Why our own bounded walk and not pympler's asizeof: asizeof follows every reference of every
entry (a listener that refers to the application object measures the whole application, once
per entry), has no time bound, and pympler is not importable in most targets. We walk
`gc.get_referents` from each sampled entry, stop at types, modules, functions and code,
count every object once per container, and extrapolate with the median entry.

Entry points:
- injected (gdb, lldb, sys.remote_exec): the file is executed with a global REQUEST naming a JSON
  request file; see `_injected`. With room for a copy of the process the heap is walked by a
  forked copy (the target pauses for the fork). Without it (and always through lldb, which stops
  a called function at a fork) the injected code only starts a thread and returns, so the
  debugger detaches at once; the thread waits until the process is no longer traced, then forks
  (lldb) or walks in slices and gives the GIL to the program between them (see _Pacer): the
  target is held by the debugger only for the injection, and the program runs between slices. Like pympler's
  walk, the counts are then those of a heap that may change while it is walked;
- resident (launch mode, `memdoctor run --heap-every`): `start_resident()` is called from the
  sitecustomize that memdoctor puts on PYTHONPATH; it writes snapshots periodically and answers
  a control socket, so `memdoctor snapshot PID` needs no debugger.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time

FORMAT_VERSION = 1
MAX_TYPES = 3000
SAMPLE_ENTRIES = 200  # entries walked per container; the rest is extrapolated
NODES_PER_ENTRY = 2000  # objects followed from one entry at most
MIN_CONTAINER_ENTRIES = 8
MIN_CONTAINER_BYTES = 4096
MAX_CONTAINERS = 5000
MAX_SITES = 60
CHUNK = 32768  # objects per slice of the walk (the GIL can go to the program between slices)
ARENA_BYTES = 1 << 20  # pymalloc arena size (3.10+: 1 MiB)
_FORKING = [False]  # set while snapshot_forked forks (read by the launch-mode at-fork handler)
# How long a snapshot waits for another one of the same process to finish: a sliced walk of a
# 2 GiB heap takes about a minute here; past this the other walk is stuck and this one gives up.
WALK_LOCK_WAIT_S = 300.0
_HELD_LOCKS: list = []  # the walk lock's socket while held (a forked copy closes it: see snapshot_forked)


class _WalkBusy(Exception):
    """Another snapshot of this process held the walk lock for longer than WALK_LOCK_WAIT_S."""


class _WalkLock:
    """One heap walk at a time in a process, whoever asks (resident agent, gdb/lldb injection,
    sys.remote_exec): two walks at once count each other's temporary lists and dicts as growth.

    The lock is an abstract unix socket named after the process: binding the name succeeds for
    one holder only, leaves no file and no state in the target, and the kernel frees the name
    when the socket is closed, even if the thread that held it died."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline if deadline is not None else time.time() + WALK_LOCK_WAIT_S
        self.sock = None

    def __enter__(self):
        import socket

        name = ("\0memdoctor-heap-walk-" + str(os.getpid())).encode()
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(name)
            except OSError:
                sock.close()
                if time.time() >= self.deadline:
                    raise _WalkBusy() from None
                time.sleep(0.01)
                continue
            self.sock = sock
            _HELD_LOCKS.append(sock)
            return self

    def __exit__(self, *exc) -> None:
        if self.sock is not None:
            try:
                _HELD_LOCKS.remove(self.sock)
            except ValueError:
                pass
            self.sock.close()
            self.sock = None


def _process_started(pid: int):
    """The start time of process `pid` (field 22 of /proc/PID/stat, in clock ticks), None if gone."""
    try:
        with open("/proc/" + str(int(pid)) + "/stat", "rb") as fh:
            text = fh.read()
        return int(text[text.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _owner_alive(config: dict) -> bool:
    """True while the memdoctor that started this agent runs (a PID reused by another process does
    not count: its start time differs). Without an owner in the config, always True."""
    owner = config.get("owner_pid")
    if not owner:
        return True
    return _process_started(owner) == config.get("owner_started")


# --------------------------------------------------------------------------- small helpers


def _now_iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1000):03d}Z"


def _rss() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _type_name(tp: type) -> str:
    try:  # a metaclass can make these attributes properties that raise
        module = getattr(tp, "__module__", None)
        qual = getattr(tp, "__qualname__", None) or getattr(tp, "__name__", "?")
    except Exception:
        return "?"
    if not isinstance(qual, str):
        qual = "?"
    if module in (None, "builtins") or not isinstance(module, str):
        return qual
    return module + "." + qual


def _write_private(path: str, data: bytes) -> None:
    """Create `path` with mode 0600 (atomically, through a temporary name) and write `data`."""
    tmp = path + ".part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- objects per type


def _type_table(pace=None) -> tuple[list[list], int, int]:
    """[[type name, count, shallow bytes], ...] over every live object, the object count and bytes.

    gc.get_objects() lists the objects the collector tracks; atoms (str, int, float, bytes) and
    untracked dicts/tuples are found through the tracked objects' referents, layer by layer
    (an untracked dict's strings are one layer further down), each object once (a dict keyed by
    id keeps insertion order: the objects a layer adds are the dict's last entries).
    Every loop that touches every object runs in C (map, filterfalse, compress, Counter, sum):
    - a type whose instances all have one size (no __sizeof__ of its own, no items) is sized
      once: count x size of one instance;
    - the sizes of a variable-size type (dict, str, int, list...) are summed with one C pass
      per type when it is common, a Python loop only over the rare ones.
    The work goes in slices of CHUNK objects; `pace` (when given) is called between slices:
    the resident or injected thread gives the GIL to the program there.
    """
    from collections import Counter
    from itertools import compress, filterfalse, islice

    pace = pace or (lambda: None)
    is_tracked = gc.is_tracked
    get_referents = gc.get_referents
    objs = gc.get_objects()
    pace()
    seen: dict = {}
    layer = objs
    expand = frozenset((dict, tuple))
    while layer:
        deeper: list = []
        for start in range(0, len(layer), CHUNK):
            refs = get_referents(*layer[start:start + CHUNK])  # a big container gives many: sliced below
            for at in range(0, len(refs), CHUNK):
                untracked = list(filterfalse(is_tracked, refs[at:at + CHUNK]))
                before = len(seen)
                seen.update(zip(map(id, untracked), untracked))  # noqa: B905 (3.8 targets)
                del untracked
                found = _added_since(seen, before)
                deeper.extend(compress(found, map(expand.__contains__, map(type, found))))
                del found
                pace()
            del refs
        layer = deeper
    del layer
    counts: Counter = Counter()
    sizes: dict = {}
    fixed: dict = {}  # type -> size of one instance (None: instances differ)
    n_objects = len(objs) + len(seen)
    for group in (objs, seen.values()):
        it = iter(group)
        while True:
            part = list(islice(it, CHUNK))
            if not part:
                break
            _size_slice(part, counts, sizes, fixed)
            del part
            pace()
    del group, it
    _drop(seen, pace)
    del objs, seen
    pace()
    by_name: dict = {}
    total = 0
    for t, s in sizes.items():
        total += s
        name = _type_name(t)
        row = by_name.get(name)
        if row is None:
            by_name[name] = [name, counts[t], s]
        else:
            row[1] += counts[t]
            row[2] += s
    rows = sorted(by_name.values(), key=lambda r: -r[2])[:MAX_TYPES]
    return rows, n_objects, total


def _drop(seen: dict, pace) -> None:
    """Empty `seen` (a million ids and objects take a while to free) in slices, from its end."""
    from collections import deque
    from itertools import islice

    try:
        while len(seen) > CHUNK:
            keys = list(islice(reversed(seen), CHUNK))
            deque(map(seen.pop, keys), maxlen=0)
            del keys
            pace()
    except TypeError:  # 3.7: dicts cannot be reversed
        pass
    seen.clear()


def _added_since(seen: dict, before: int) -> list:
    """The values added to `seen` after it held `before` entries (a dict keeps insertion order)."""
    from itertools import islice

    try:
        return list(islice(reversed(seen.values()), len(seen) - before))  # 3.8+: from the end
    except TypeError:  # 3.7 cannot reverse a dict view: skip the old entries
        return list(islice(seen.values(), before, None))


def _fixed_size(tp) -> bool:
    """True when every instance of `tp` has one size (no __sizeof__ of its own, no items)."""
    try:
        return not tp.__itemsize__ and tp.__sizeof__ is object.__sizeof__
    except Exception:
        return False


def _size_slice(part: list, counts, sizes: dict, fixed: dict) -> None:
    """Add one slice of objects to the per-type counts and byte sums (see _type_table).

    `fixed` maps each type seen so far to the size of its instances, or None when they differ.
    """
    from collections import Counter
    from itertools import compress, repeat
    from operator import is_

    getsizeof = sys.getsizeof
    types = list(map(type, part))
    here = Counter(types)
    counts.update(here)
    new = [t for t in here if t not in fixed]
    if new:
        one = dict(zip(types, part))  # noqa: B905 (3.8 targets); an instance of each type
        for t in new:
            size = None
            if _fixed_size(t):
                try:
                    size = getsizeof(one[t])
                except Exception:
                    size = None
            fixed[t] = size
        del one
    variable = []
    for t, c in here.items():
        if fixed[t] is None:
            variable.append(t)
        else:
            sizes[t] = sizes.get(t, 0) + fixed[t] * c
    if not variable:
        return
    try:
        lengths = list(map(getsizeof, part))
    except Exception:  # a broken __sizeof__ in this slice: one object at a time
        wanted = frozenset(variable)
        for t, o in zip(types, part):  # noqa: B905 (3.8 targets)
            if t in wanted:
                try:
                    sizes[t] = sizes.get(t, 0) + getsizeof(o)
                except Exception:
                    sizes.setdefault(t, 0)
        return
    common = [t for t in variable if here[t] * 16 >= len(part)]
    for t in common:  # one pass in C per common variable-size type
        sizes[t] = sizes.get(t, 0) + sum(compress(lengths, map(is_, types, repeat(t))))
    rare = frozenset(variable).difference(common)
    if rare:  # the few objects of the rare variable-size types, in Python
        keep = list(map(rare.__contains__, types))
        for t, s in zip(compress(types, keep), compress(lengths, keep)):  # noqa: B905 (3.8 targets)
            sizes[t] = sizes.get(t, 0) + s


# --------------------------------------------------------------------------- named containers


def _stop_types() -> tuple:
    import types

    # Shared, not owned by an entry: classes, modules, code, running frames, builtins, threads.
    # Functions and bound methods are walked (a listener or a closure can own the leak); the
    # module namespaces they point to are stopped by identity (see _module_dicts).
    return (type, types.ModuleType, types.CodeType, types.FrameType, types.BuiltinFunctionType,
            types.GetSetDescriptorType, types.MemberDescriptorType, types.WrapperDescriptorType,
            types.MethodDescriptorType, threading.Thread)


def _lru_type():
    import functools

    return getattr(functools, "_lru_cache_wrapper", None)


def _container_base(tp):
    """The built-in container type `tp` derives from, or None. By the real type: isinstance would
    ask the object's `__class__`, which a proxy answers with user code (that may raise or lie)."""
    import collections

    for base in (dict, list, set, frozenset, collections.deque, bytearray):
        if issubclass(tp, base):
            return base
    return None


def _container_kind(value, lru_type) -> str | None:
    tp = type(value)
    if _container_base(tp) is not None:
        return tp.__name__
    if lru_type is not None and issubclass(tp, lru_type):
        return "lru_cache"
    return None


def _lru_store(wrapper):
    """The dict inside an lru_cache wrapper (the C wrapper exposes it only to the collector)."""
    try:
        size = wrapper.cache_info().currsize
    except Exception:
        return None, 0
    best = None
    for ref in gc.get_referents(wrapper):
        if type(ref) is dict and (best is None or abs(len(ref) - size) < abs(len(best) - size)):
            best = ref
    return best, size


def _cached_function(wrapper) -> str:
    """ " of module.func (dir/file.py:LINE)" for an lru_cache wrapper: the function it caches, read from the
    wrapper's own __dict__ (set by functools.update_wrapper) and the function's code object; no user code
    runs. Empty when it is not a plain Python function."""
    import types

    try:
        fn = object.__getattribute__(wrapper, "__dict__").get("__wrapped__")
    except Exception:
        return ""
    if type(fn) is not types.FunctionType:
        return ""
    code = fn.__code__
    parts = code.co_filename.replace("\\", "/").split("/")
    return " of " + fn.__module__ + "." + fn.__qualname__ + " (" + "/".join(parts[-2:]) + ":" + \
        str(code.co_firstlineno) + ")"


def _entries(value, kind: str):
    if kind == "lru_cache":
        store, size = _lru_store(value)
        return (store if store is not None else {}), size
    # The built-in's own length: a subclass's __len__ is user code (it may raise, or lie by millions).
    base = _container_base(type(value))
    size = base.__len__(value) if base is not None else 0
    if kind == "bytearray":
        return None, size
    return value, size


def _deep_size(value, kind: str, stop: tuple, shared: set, budget: dict) -> tuple[int, int, bool]:
    """(entries, retained bytes estimate, complete) of a container, bounded.

    The first SAMPLE_ENTRIES entries are walked (each through at most NODES_PER_ENTRY objects,
    every object counted once per container); the other entries are estimated with the median
    entry, so a structure shared by all entries (counted with the first one) is not multiplied.
    """
    getsizeof = sys.getsizeof
    get_referents = gc.get_referents
    store, n = _entries(value, kind)
    total = getsizeof(value)
    if store is None:
        return n, total, True
    seen = {id(value), id(store)}
    if store is not value:
        total += getsizeof(store)
    per_entry: list = []
    sampled = 0
    complete = True
    from itertools import islice

    # The built-in's own iteration: a subclass may override items() or __iter__ with user code.
    base = _container_base(type(store))
    items = dict.items(store) if base is dict else (base.__iter__(store) if base is not None else iter(()))
    try:
        # The sample is taken in one C call: a thread of the program cannot change the container
        # in the middle (the walk may run beside the program, see _Pacer).
        sample = list(islice(items, SAMPLE_ENTRIES + 1))
        for item in sample:
            if sampled >= SAMPLE_ENTRIES or budget["nodes"] <= 0:
                complete = False
                break
            sampled += 1
            nodes = 0
            size = 0
            stack = list(item) if base is dict else [item]
            while stack and nodes < NODES_PER_ENTRY:
                o = stack.pop()
                i = id(o)
                if i in seen or o is None or i in shared or issubclass(type(o), stop):
                    continue
                seen.add(i)
                nodes += 1
                try:
                    size += getsizeof(o)
                except Exception:
                    pass
                if gc.is_tracked(o) or type(o) in (dict, tuple):
                    stack.extend(get_referents(o))
            if stack:
                complete = False
            budget["nodes"] -= nodes
            per_entry.append(size)
    except RuntimeError:  # changed size during iteration (another thread): keep what we have
        complete = False
    total += sum(per_entry)
    if sampled < n and per_entry:
        ordered = sorted(per_entry)
        median = ordered[len(ordered) // 2]
        total += median * (n - sampled)
    return n, int(total), complete and sampled >= n


def _module_dicts() -> set:
    """ids of the module namespaces and of the builtins: reached through every function, owned by none."""
    from types import ModuleType

    ids = {id(sys.modules)}
    for mod in list(sys.modules.values()):
        if isinstance(mod, ModuleType):
            try:
                ids.add(id(vars(mod)))
            except TypeError:
                pass
    return ids


def _is_name(text) -> bool:
    return isinstance(text, str) and text.isidentifier() and len(text) <= 80


class _Skipped:
    """Objects the walk passed over because they misbehaved (raised on attribute access, lied
    in `__class__`, had a broken `__len__`...): counted, and the first one named by its path."""

    def __init__(self) -> None:
        self.count = 0
        self.first = None  # "module.name" of the first one
        self.error = None  # its exception type

    def add(self, path: str, exc: BaseException) -> None:
        self.count += 1
        if self.first is None:
            self.first = path
            self.error = type(exc).__name__

    def to_dict(self):
        return {"objects": self.count, "first": self.first, "error": self.error} if self.count else None


def _candidates(agent_names: set, skipped: _Skipped | None = None) -> dict:
    """id -> (path, where, value, kind) of the named containers, shortest path first."""
    from types import ModuleType

    if skipped is None:
        skipped = _Skipped()
    lru_type = _lru_type()
    found: dict = {}

    def consider(value, path: str, where: str) -> None:
        kind = _container_kind(value, lru_type)
        if kind is None:
            return
        key = id(value)
        old = found.get(key)
        if old is None or (path.count("."), path) < (old[0].count("."), old[0]):
            found[key] = (path, where, value, kind)

    modules = sorted((name, mod) for name, mod in list(sys.modules.items())
                     if issubclass(type(mod), ModuleType) and isinstance(name, str) and name not in agent_names)
    skip_ids = {id(sys.modules), id(sys.path), id(sys.path_importer_cache), id(sys.meta_path),
                id(sys.path_hooks)}
    for modname, mod in modules:
        try:
            namespace = list(vars(mod).items())
        except Exception:  # foreign objects: vars() may raise anything, or return a non-mapping
            continue
        for name, value in namespace:
            if not _is_name(name) or name.startswith("__") or id(value) in skip_ids:
                continue
            path = modname + "." + name
            try:
                _consider_global(value, modname, name, path, consider)
            except Exception as exc:  # one object's own code (a proxy, a property) must not end the snapshot
                skipped.add(path, exc)
    return found


def _consider_global(value, modname: str, name: str, path: str, consider) -> None:
    """The container a module global is, and those held in its attributes (class or instance).

    Only the real type is asked (type(), issubclass, vars): hasattr/isinstance/getattr on the value
    run its own code, and a werkzeug LocalProxy raises RuntimeError outside a request."""
    from types import FunctionType, ModuleType

    consider(value, path, "module global")
    tp = type(value)
    if issubclass(tp, FunctionType):
        _consider_function(value, path, consider)
        return
    if issubclass(tp, type):
        if value.__dict__.get("__module__") != modname:
            return
        attrs = list(vars(value).items())
        for aname, avalue in attrs:
            if _is_name(aname) and not aname.startswith("__"):
                consider(avalue, path + "." + aname, "class attribute")
                if issubclass(type(avalue), FunctionType):
                    _consider_function(avalue, path + "." + aname, consider)
        return
    if issubclass(tp, ModuleType) or getattr(tp, "__module__", "builtins") == "builtins":
        return
    try:
        attrs = list(object.__getattribute__(value, "__dict__").items())
    except Exception:  # no instance dict (slots, C types), or one that is not a dict (numba's wrappers)
        return
    where = "attribute of module global " + modname + "." + name + " (" + _type_name(tp) + ")"
    for aname, avalue in attrs:
        if _is_name(aname) and not aname.startswith("__"):
            consider(avalue, path + "." + aname, where)


def _consider_function(fn, path: str, consider) -> None:
    """Containers a function holds itself: its default arguments (`def f(_cache={})`, objgraph's classic
    leak) and its closure's variables (a cache made by an enclosing function). Names only: the
    parameter or variable name, never the value. Only the function's own slots are read (a real
    function: no user code runs)."""
    code = fn.__code__
    defaults = fn.__defaults__ or ()
    if defaults:
        names = code.co_varnames[code.co_argcount - len(defaults):code.co_argcount]
        for argname, value in zip(names, defaults):  # noqa: B905 (3.8 targets)
            consider(value, path + "." + argname, "default argument " + argname + " of " + fn.__qualname__ + "()")
    for argname, value in list((fn.__kwdefaults__ or {}).items()):
        consider(value, path + "." + argname, "default argument " + argname + " of " + fn.__qualname__ + "()")
    cells = fn.__closure__ or ()
    for varname, cell in zip(code.co_freevars, cells):  # noqa: B905 (3.8 targets)
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell (the variable is not bound yet)
            continue
        consider(value, path + "." + varname, "closure variable " + varname + " of " + fn.__qualname__ + "()")


def _containers(agent_names: set, skipped: _Skipped, show_values: bool = False) -> list[dict]:
    stop = _stop_types()
    shared = _module_dicts()
    found = _candidates(agent_names, skipped)
    budget = {"nodes": 2_000_000}
    rows = []
    for path, where, value, kind in sorted(found.values(), key=lambda r: r[0]):
        try:
            entries, size, complete = _deep_size(value, kind, stop, shared, budget)
        except Exception as exc:
            skipped.add(path, exc)
            continue
        if entries < MIN_CONTAINER_ENTRIES and size < MIN_CONTAINER_BYTES:
            continue
        if kind == "lru_cache":
            where = "functools cache" + _cached_function(value) + " (" + where + ")"
        rows.append({"path": path, "type": kind if kind == "lru_cache" else _type_name(type(value)),
                     "where": where, "entries": entries, "bytes": size, "exact": complete})
        if show_values:
            rows[-1]["values"] = _newest_entries(value, kind)
    found.clear()
    rows.sort(key=lambda r: -r["bytes"])
    return rows[:MAX_CONTAINERS]


VALUE_SAMPLES = 3
VALUE_WIDTH = 60
PLAIN_VALUE_TYPES = (str, bytes, int, float, bool, type(None))


def _value_text(value) -> str:
    """A short repr of a plain value; anything else by its type only (its __repr__ is user code)."""
    plain = type(value) in PLAIN_VALUE_TYPES
    if not plain and type(value) is tuple and len(value) <= 8:
        plain = all(type(v) in PLAIN_VALUE_TYPES for v in value)
    if not plain:
        return "<" + _type_name(type(value)) + ">"
    if type(value) in (str, bytes):
        value = value[:VALUE_WIDTH]  # never repr a 100 MB string whole
    try:
        text = repr(value)
    except ValueError:  # an int beyond sys.get_int_max_str_digits
        return "<int>"
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "\u2026"


def _newest_entries(value, kind: str) -> list:
    """Up to VALUE_SAMPLES entries, newest first where the container keeps an order; only with
    `snapshot --show-values`: these are the program's data (ids, e-mails, tokens)."""
    from itertools import islice

    store, _ = _entries(value, kind)
    try:
        if isinstance(store, dict):
            keys = list(islice(reversed(store), VALUE_SAMPLES))
            return [_value_text(k) + " \u2192 " + "<" + _type_name(type(store.get(k))) + ">" for k in keys]
        if store is None:
            return []
        ordered = reversed(store) if not isinstance(store, (set, frozenset)) else iter(store)
        return [_value_text(v) for v in islice(ordered, VALUE_SAMPLES)]
    except Exception:  # a container changed by another thread mid-way: no sample rather than a failure
        return []


# --------------------------------------------------------------------------- allocator view


def _pymalloc(scratch_dir: str | None) -> dict:
    """Numbers from sys._debugmallocstats (written to C stderr: fd 2 is borrowed for the call)."""
    out: dict = {"allocated_blocks": sys.getallocatedblocks()}
    dump = getattr(sys, "_debugmallocstats", None)
    if dump is None:
        return out
    scratch = None
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("memdoctor-mallocstats", getattr(os, "MFD_CLOEXEC", 1))
    elif scratch_dir:
        scratch = os.path.join(scratch_dir, f".mallocstats.{os.getpid()}")
        fd = os.open(scratch, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    else:
        return out
    saved = os.dup(2)
    try:
        os.dup2(fd, 2)
        try:
            dump()
        finally:
            os.dup2(saved, 2)
        os.lseek(fd, 0, 0)
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk or len(chunks) > 64:
                break
            chunks.append(chunk)
        text = b"".join(chunks).decode("ascii", "replace")
    finally:
        os.close(saved)
        os.close(fd)
        if scratch:
            try:
                os.unlink(scratch)
            except OSError:
                pass
    keys = {
        "# arenas allocated current": "arenas",
        "# arenas highwater mark": "arenas_highwater",
        "# bytes in allocated blocks": "bytes_in_blocks",
        "# bytes in available blocks": "bytes_free_in_pools",
    }
    for line in text.splitlines():
        head, _, value = line.partition("=")
        name = keys.get(head.strip())
        if name:
            try:
                out[name] = int(value.strip().replace(",", ""))
            except ValueError:
                pass
        elif "unused pools" in head:
            try:
                out["bytes_unused_pools"] = int(value.strip().replace(",", ""))
            except ValueError:
                pass
    if "arenas" in out:
        out["arena_bytes"] = out["arenas"] * ARENA_BYTES
    return out


def _glibc(trim: bool, scratch_dir: str | None) -> dict:
    """glibc malloc's totals (mallinfo2), its number of arenas (malloc_info) and a malloc_trim(0) probe."""
    out: dict = {}
    try:
        import ctypes
    except Exception:
        return out
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return out
    fields = ["arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
              "keepcost"]
    info = getattr(libc, "mallinfo2", None)
    if info is not None:
        class MallInfo2(ctypes.Structure):
            _fields_ = [(f, ctypes.c_size_t) for f in fields]

        info.restype = MallInfo2
        mi = info()
        out["in_use"] = int(mi.uordblks)
        out["free"] = int(mi.fordblks)
        out["mmapped"] = int(mi.hblkhd)
        out["heap"] = int(mi.arena)
    if scratch_dir and hasattr(libc, "malloc_info") and hasattr(libc, "fopen"):
        path = os.path.join(scratch_dir, f".malloc_info.{os.getpid()}")
        libc.fopen.restype = ctypes.c_void_p
        libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        libc.fclose.argtypes = [ctypes.c_void_p]
        libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
        fp = libc.fopen(path.encode(), b"w")
        if fp:
            try:
                libc.malloc_info(0, fp)
            finally:
                libc.fclose(fp)
            try:
                with open(path, encoding="ascii", errors="replace") as fh:
                    xml = fh.read(1 << 22)
                out["arenas"] = xml.count("<heap nr=")
            except OSError:
                pass
            finally:
                try:
                    os.unlink(path)
                except OSError:
                    pass
    if trim and hasattr(libc, "malloc_trim"):
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        before = _rss()
        started = time.perf_counter()
        libc.malloc_trim(0)
        after = _rss()
        if before is not None and after is not None:
            out["trim_released"] = max(0, before - after)
            out["trim_s"] = round(time.perf_counter() - started, 4)
    return out


# --------------------------------------------------------------------------- allocation sites


class _SiteRecorder:
    """Records which lines allocate memory that is still alive at the end of a window.

    memray is used when the target can import it; else tracemalloc, started and stopped here
    (left alone when the target was already tracing).
    """

    def __init__(self, scratch_dir: str | None) -> None:
        self.tool = "tracemalloc"
        self.was_tracing = False
        self.tracker = None
        self.memray_file = None
        self.scratch = scratch_dir

    def start(self) -> None:
        try:
            import importlib.util

            has_memray = self.scratch is not None and importlib.util.find_spec("memray") is not None
        except Exception:
            has_memray = False
        if has_memray:
            try:
                import memray

                self.memray_file = os.path.join(self.scratch, f"alloc.{os.getpid()}.memray")
                self.tracker = memray.Tracker(self.memray_file, follow_fork=False, trace_python_allocators=True,
                                              file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS)
                self.tracker.__enter__()
                self.tool = "memray"
                return
            except Exception:
                self.tracker = None
        import tracemalloc

        self.was_tracing = tracemalloc.is_tracing()
        if not self.was_tracing:
            tracemalloc.start(8)

    def stop(self) -> list[dict]:
        if self.tool == "memray":
            return self._stop_memray()
        import tracemalloc

        snap = tracemalloc.take_snapshot()
        if not self.was_tracing:
            tracemalloc.stop()
        sites: dict = {}
        for stat in snap.statistics("traceback"):
            frames = list(stat.traceback)[::-1]  # tracemalloc lists the oldest frame first
            if not frames or _own_file(frames[0].filename):
                continue
            site = f"{frames[0].filename}:{frames[0].lineno}"
            caller = None
            for frame in frames:
                if not _library_file(frame.filename):
                    caller = f"{frame.filename}:{frame.lineno}"
                    break
            row = sites.setdefault(site, {"site": site, "caller": caller, "count": 0, "bytes": 0})
            row["count"] += stat.count
            row["bytes"] += stat.size
        del snap
        return sorted(sites.values(), key=lambda r: -r["bytes"])[:MAX_SITES]

    def _stop_memray(self) -> list[dict]:
        try:
            self.tracker.__exit__(None, None, None)
            import memray

            sites: dict = {}
            reader = memray.FileReader(self.memray_file)
            for rec in reader.get_leaked_allocation_records(merge_threads=True):
                stack = rec.stack_trace(max_stacks=8)
                if not stack or _own_file(stack[0][1]):
                    continue
                _func, filename, line = stack[0]
                site = f"{filename}:{line}"
                caller = None
                for _f, fname, ln in stack:
                    if not _library_file(fname):
                        caller = f"{fname}:{ln}"
                        break
                row = sites.setdefault(site, {"site": site, "caller": caller, "count": 0, "bytes": 0})
                row["count"] += rec.n_allocations
                row["bytes"] += rec.size
            return sorted(sites.values(), key=lambda r: -r["bytes"])[:MAX_SITES]
        finally:
            try:
                os.unlink(self.memray_file)
            except OSError:
                pass


def _own_file(filename: str) -> bool:
    return filename.startswith("<memdoctor")


def _library_file(filename: str) -> bool:
    return ("/lib/python" in filename or "site-packages" in filename or filename.startswith("<")) and \
        "memdoctor" not in filename


# --------------------------------------------------------------------------- the snapshot


def _process_facts(trim: bool, scratch_dir: str | None) -> dict:
    """What must be measured in the target process itself (not in a forked copy)."""
    rss_before = _rss()
    native = _glibc(trim, scratch_dir)
    return {"pid": os.getpid(), "rss_before_trim": rss_before, "rss": _rss(), "glibc": native,
            "threads": threading.active_count(), "wall": time.time(), "t0": time.perf_counter()}


def take_snapshot(path: str, *, trim: bool = True, scratch_dir: str | None = None, sites: list | None = None,
                  allocations_tool: str | None = None, limit_bytes: int | None = None, method: str = "agent",
                  agent_names: set | None = None, facts: dict | None = None, mode: str = "inline",
                  sliced: bool = False, show_values: bool = False) -> dict:
    """Write a snapshot to `path` (mode 0600) and return its metadata.

    `facts` are the process's own numbers when this runs in a forked copy (see snapshot_forked).
    `sliced`: this runs in a thread of the live program, which gets the GIL between slices of the
    walk (see _Pacer); the pause reported is then the longest slice.
    """
    started = time.perf_counter()
    wall_at_start = time.time()
    thread_time = time.thread_time() if hasattr(time, "thread_time") else None
    if facts is None:
        facts = _process_facts(trim, scratch_dir)
        # The walk (walk_s) is timed from `started`, so it starts then: taking the wall clock after
        # the trim put captured_at + walk_s ~20 ms past the walk's real end (two serialised walks
        # then seemed to overlap).
        facts["wall"] = wall_at_start
    started_wall = facts["wall"]
    rss, rss_before, native = facts["rss"], facts["rss_before_trim"], facts["glibc"]
    pacer = _Pacer() if sliced else None
    types_rows, n_objects, objects_bytes = _type_table(pacer)
    if pacer is not None:
        pacer()
    skipped = _Skipped()
    containers = _containers(agent_names or set(), skipped, show_values)
    if pacer is not None:
        pacer()
    pymalloc = _pymalloc(scratch_dir)
    walk = time.perf_counter() - started
    # What the target felt: only the fork when a forked copy walks; the longest slice when the
    # walk gave the GIL back between slices; else the whole walk.
    if mode == "fork":
        pause = facts["fork_s"]
    elif pacer is not None:
        pacer()
        pause = pacer.longest
    else:
        pause = time.perf_counter() - facts["t0"]
    snapshot = {
        "memdoctor_heap": FORMAT_VERSION,
        "runtime": "python",
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "pid": facts["pid"],
        "captured_at": _now_iso(started_wall),
        "captured_at_unix": round(started_wall, 3),
        "method": method,
        "mode": mode,
        "sliced": pacer is not None,
        "pause_s": round(pause, 4),
        "walk_s": round(walk, 4),
        "rss": rss,
        "rss_before_trim": rss_before,
        "threads": facts["threads"],
        "objects": n_objects,
        "objects_bytes": objects_bytes,
        "pymalloc": pymalloc,
        "glibc": native,
        "limit_bytes": limit_bytes,
        "types": types_rows,
        "containers": containers,
    }
    if skipped.count:
        snapshot["skipped"] = skipped.to_dict()
    if sites is not None:
        snapshot["sites"] = sites
        snapshot["sites_tool"] = allocations_tool
    data = json.dumps(snapshot, separators=(",", ":")).encode("utf-8")
    del types_rows, containers, snapshot
    _write_private(path, data)
    meta = {
        "pid": facts["pid"],
        "runtime": "python",
        "captured_at": _now_iso(started_wall),
        "captured_at_unix": round(started_wall, 3),
        "rss": rss,
        "limit_bytes": limit_bytes,
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
        "method": method,
        "mode": mode,
        "sliced": pacer is not None,
        "pause_s": round(pause, 4),
        "walk_s": round(walk, 4),
        "objects": n_objects,
        "objects_bytes": objects_bytes,
        "agent_cpu_s": round(time.thread_time() - thread_time, 4) if thread_time is not None else None,
    }
    if skipped.count:
        meta["skipped"] = skipped.to_dict()
    if mode != "fork":
        _leave_nothing_behind()
    return meta


class _Pacer:
    """Called between slices of a walk that runs in a thread of the live program: gives the GIL to
    the program's threads for a moment, and records the longest stretch the walk held it."""

    def __init__(self, nap_s: float = 0.0002) -> None:
        self.nap_s = nap_s
        self.longest = 0.0
        self.last = time.perf_counter()

    def __call__(self) -> None:
        now = time.perf_counter()
        if now - self.last > self.longest:
            self.longest = now - self.last
        time.sleep(self.nap_s)  # releases the GIL: a thread waiting for it takes it
        self.last = time.perf_counter()


def snapshot_forked(path: str, result_path: str, *, trim: bool = True, meta_only: bool = False, **kwargs) -> bool:
    """Walk the heap in a forked copy of the process, so the target pauses only for the fork.

    The child (one thread, copy-on-write pages, oom_score_adj 1000 so that the kernel kills it
    first if memory runs out) writes the snapshot and `result_path`, then leaves with
    os._exit: it never returns into the program. A daemon thread here reaps it. Returns False
    when fork is not available (the caller walks inline).
    """
    if not hasattr(os, "fork"):
        return False
    import warnings

    kwargs.pop("sliced", None)  # the forked copy has one thread: nothing to give the GIL to
    facts = _process_facts(trim, kwargs.get("scratch_dir"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3.12+: "multi-threaded process, fork() may deadlock" (the child only walks)
        started = time.perf_counter()
        _FORKING[0] = True  # the launch-mode agent must not restart itself in this copy
        try:
            child = os.fork()
        finally:
            _FORKING[0] = False
    if child == 0:
        code = 1
        for held in list(_HELD_LOCKS):  # the lock is the parent's: the copy must not keep it bound
            try:
                held.close()
            except OSError:
                pass
        try:
            # A name memdoctor's own sampler knows, so that this short-lived copy is not counted
            # in the target's tree (its shared pages would show as a spike in the trace).
            try:
                with open("/proc/self/comm", "w") as fh:
                    fh.write("memdoctor-walk")
            except OSError:
                pass
            facts["fork_s"] = time.perf_counter() - started
            try:
                with open("/proc/self/oom_score_adj", "w") as fh:
                    fh.write("1000")
            except OSError:
                pass
            meta = take_snapshot(path, trim=trim, facts=facts, mode="fork", **kwargs)
            if meta_only:
                meta["snapshot"] = os.path.basename(path)
                _write_private(result_path, json.dumps(meta, indent=2).encode())
            else:
                _write_private(result_path, json.dumps({"ok": True, "meta": meta}).encode())
            code = 0
        except BaseException as exc:
            try:
                _write_private(result_path, json.dumps({"ok": False, "error": _describe(exc)}).encode())
            except BaseException:
                pass
        finally:
            os._exit(code)

    def reap() -> None:
        try:
            os.waitpid(child, 0)
        except OSError:  # the program reaped it itself (a prefork server's wait loop)
            pass

    threading.Thread(target=reap, name="memdoctor-reaper", daemon=True).start()
    return True


def _leave_nothing_behind() -> None:
    """Give back to the system the memory the agent used (its lists and sets are freed by now).

    Modules the agent imported (ctypes, the first time) stay imported: removing them from
    sys.modules would make the next snapshot import them again and leave the old copies as
    garbage. Everything else the agent made is local and freed when it returns.
    """
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except Exception:
        pass


# --------------------------------------------------------------------------- injected entry point


def _injected(request_path: str) -> None:
    """Run one request written by `memdoctor snapshot`; never raise into the target."""
    result_path = None
    try:
        with open(request_path, encoding="utf-8") as fh:
            req = json.load(fh)
        result_path = req["result"]
        if time.time() > float(req["deadline"]):
            return  # memdoctor gave up on this request: do nothing at all
        if req.get("allocations_s") or req.get("after_detach"):
            recorder = None
            if req.get("allocations_s"):
                recorder = _SiteRecorder(req.get("scratch"))
                recorder.start()
            namespace = globals()

            def finish() -> None:
                try:
                    if req.get("after_detach") and not _wait_untraced(float(req["deadline"])):
                        return  # still traced at memdoctor's deadline: it gave up on this request
                    if recorder is not None:
                        time.sleep(float(req["allocations_s"]))
                    _finish_request(req, recorder)
                finally:
                    namespace.clear()  # the injected namespace: nothing of the agent stays

            namespace["KEEP"] = True  # the bootstrap must not clear it while the thread runs
            threading.Thread(target=finish, name="memdoctor-allocations", daemon=True).start()
            return
        _finish_request(req, None)
    except BaseException as exc:  # nothing may escape into the target
        if result_path:
            try:
                _write_private(result_path, json.dumps({"ok": False, "error": _describe(exc)}).encode())
            except Exception:
                pass


def _wait_untraced(deadline: float) -> bool:
    """Wait until no debugger traces this process (lldb stops an expression at a fork: the fork
    that walks the heap must come after it detached). False if still traced at `deadline`."""
    while time.time() < deadline:
        try:
            with open("/proc/self/status", "rb") as fh:
                if b"TracerPid:\t0\n" in fh.read():
                    return True
        except OSError:
            return True
        time.sleep(0.002)
    return False


def _finish_request(req: dict, recorder: _SiteRecorder | None) -> None:
    try:
        sites = recorder.stop() if recorder is not None else None
        kwargs = {"scratch_dir": req.get("scratch"), "sites": sites,
                  "allocations_tool": recorder.tool if recorder else None, "limit_bytes": req.get("limit_bytes"),
                  "method": req.get("method", "agent"), "show_values": bool(req.get("show_values")),
                  # in a thread of its own (after the debugger left): the program runs between slices
                  "sliced": threading.current_thread() is not threading.main_thread() and
                  bool(req.get("after_detach") or req.get("allocations_s"))}
        trim = bool(req.get("trim", True))
        with _WalkLock(float(req["deadline"]) if req.get("deadline") else None):
            if req.get("fork") and snapshot_forked(req["snapshot"], req["result"], trim=trim, **kwargs):
                return  # the forked copy writes the result
            meta = take_snapshot(req["snapshot"], trim=trim, **kwargs)
        _write_private(req["result"], json.dumps({"ok": True, "meta": meta}).encode())
    except BaseException as exc:
        try:
            _write_private(req["result"], json.dumps({"ok": False, "error": _describe(exc)}).encode())
        except Exception:
            pass


def _describe(exc: BaseException) -> str:
    # The exception type and the errno only: messages can quote values from the heap.
    err = getattr(exc, "errno", None)
    return type(exc).__name__ + (f" (errno {err})" if err else "")


# --------------------------------------------------------------------------- resident (launch mode)


class _Resident:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.pid = os.getpid()
        self.seq = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.sock_path = None

    def start(self) -> None:
        if "owner_checked" not in self.config:
            # Once, in the first process (forked children inherit the answer: a worker forked after
            # memdoctor died must not take its absence for invisibility). memdoctor not visible
            # from here at the start (another PID namespace) says nothing later: the check is off.
            self.config["owner_checked"] = True
            if not _owner_alive(self.config):
                self.config["owner_pid"] = None
        every = float(self.config.get("every_s") or 0)
        if every > 0:
            threading.Thread(target=self._periodic, args=(every,), name="memdoctor-heap-every", daemon=True).start()
        control = self.config.get("control_dir")
        if control:
            threading.Thread(target=self._serve, args=(control,), name="memdoctor-heap-control",
                             daemon=True).start()

    def _periodic(self, every: float) -> None:
        directory = self.config["dir"]
        prefix = self.config.get("prefix") or "heap"
        while not self.stop.wait(every):
            if os.getpid() != self.pid:
                return
            if not _owner_alive(self.config):
                # memdoctor is gone (killed with -9, or it ended without stopping us): nobody reads
                # these snapshots, and they would fill the disk of a program that outlives it.
                self.stop.set()
                return
            self.seq += 1
            path = os.path.join(directory, f"{prefix}.{self.pid}.{self.seq:03d}.snap")
            kwargs = {"scratch_dir": directory, "limit_bytes": self.config.get("limit_bytes"), "method": "launch",
                      "agent_names": self.config.get("agent_names"), "sliced": True}
            trim = bool(self.config.get("trim", True))
            try:
                with self.lock, _WalkLock():
                    if self.config.get("fork", True) and snapshot_forked(path, path + ".meta.json", trim=trim,
                                                                         meta_only=True, **kwargs):
                        continue
                    meta = take_snapshot(path, trim=trim, **kwargs)
                meta["snapshot"] = os.path.basename(path)
                _write_private(path + ".meta.json", json.dumps(meta, indent=2).encode())
            except Exception as exc:  # said in the meta file, which `run --heap-every` reads and reports
                try:
                    _write_private(path + ".meta.json", json.dumps({"ok": False, "error": _describe(exc)}).encode())
                except Exception:
                    pass

    def _serve(self, control: str) -> None:
        import socket

        try:
            os.makedirs(control, mode=0o700, exist_ok=True)
            self.sock_path = os.path.join(control, f"{self.pid}.sock")
            try:
                os.unlink(self.sock_path)
            except OSError:
                pass
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)
            try:
                server.bind(self.sock_path)
            finally:
                os.umask(old)
            server.listen(4)
        except OSError:
            return
        import atexit

        atexit.register(_unlink_quietly, self.sock_path, self.pid)  # a SIGKILL leaves it: the next start replaces it
        while not self.stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5)
                    line = conn.makefile("rb").readline(65536)
                    req = json.loads(line.decode("utf-8"))
                    conn.settimeout(None)
                    reply = self._answer(req)
                except Exception as exc:
                    reply = {"ok": False, "error": _describe(exc)}
                try:
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError:
                    pass

    def _answer(self, req: dict) -> dict:
        if req.get("cmd") == "ping":
            return {"ok": True, "pid": self.pid}
        recorder = None
        if req.get("allocations_s"):
            recorder = _SiteRecorder(req.get("scratch"))
            recorder.start()
            time.sleep(float(req["allocations_s"]))
        with self.lock:
            sites = recorder.stop() if recorder is not None else None
            kwargs = {"scratch_dir": req.get("scratch"), "sites": sites,
                      "allocations_tool": recorder.tool if recorder else None,
                      "limit_bytes": req.get("limit_bytes") or self.config.get("limit_bytes"),
                      "method": "launch-agent", "agent_names": self.config.get("agent_names"), "sliced": True,
                      "show_values": bool(req.get("show_values"))}
            trim = bool(req.get("trim", True))
            with _WalkLock():
                if req.get("fork") and snapshot_forked(req["snapshot"], req["result"], trim=trim, **kwargs):
                    return {"ok": True, "forked": True}
                meta = take_snapshot(req["snapshot"], trim=trim, **kwargs)
        return {"ok": True, "meta": meta}


def _unlink_quietly(path: str, pid: int) -> None:
    if os.getpid() == pid:
        try:
            os.unlink(path)
        except OSError:
            pass


def start_resident(config: dict) -> None:
    """Start the launch-mode agent in this process, and a fresh one in each forked child."""
    current = [_Resident(config)]
    current[0].start()

    def in_child() -> None:  # the parent's threads do not exist in the child: start new ones
        current[0].stop.set()
        if _FORKING[0]:
            return  # a copy made only to walk the heap: no agent threads in it
        current[0] = _Resident(config)
        current[0].start()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=in_child)


if __name__ == "__memdoctor_agent__" and "REQUEST" in globals():
    _injected(globals()["REQUEST"])
