"""Read a V8 `.heapsnapshot` into numpy arrays, streaming, without a Python object per node.

The format describes itself: `snapshot.meta` names the fields of a node and of an edge
(`node_fields`, `edge_fields`) and the names of the enumerated types (`node_types[0]`,
`edge_types[0]`). `nodes` and `edges` are flat integer arrays of `node_count * len(node_fields)`
and `edge_count * len(edge_fields)` numbers; `strings` is the string table that `name` fields
index. Nothing here assumes an offset: every column is found by its name in `meta`.

How it reads a 300 MB snapshot in about a second and a half with little memory:
- the file is read in 8 MiB blocks; the `nodes` and `edges` arrays are cut at the last comma of
  each block and parsed by numpy's C number parser (`np.fromstring(sep=",")`), then scattered
  straight into one array per column (uint8 for types, uint32 for names, ids and sizes, upgraded
  to 64 bits only if a value needs it), so the flat text is never held whole;
- `strings` is kept as the raw JSON bytes with the offsets of each entry. V8 and Chrome DevTools
  write one string per line and escape newlines inside strings, so the offsets are found with one
  vectorized search; a string is decoded by the JSON parser only when a report needs it. Any
  other layout falls back to `json.loads` of the whole section.

Bad input (truncated, corrupt, not a snapshot) raises HeapError with one line saying where.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from memdoctor.heap.runtimes import HeapError

BLOCK = 8 << 20
NUMERIC_SECTIONS = ("nodes", "edges", "locations")


class StringTable:
    """The snapshot's `strings`: raw JSON bytes plus where each entry starts and ends."""

    def __init__(self, data: bytes, starts: np.ndarray | None, ends: np.ndarray | None,
                 decoded: list[str] | None = None) -> None:
        self._data = data
        self._starts = starts
        self._ends = ends
        self._decoded = decoded
        self._cache: dict[int, str] = {}

    def __len__(self) -> int:
        if self._decoded is not None:
            return len(self._decoded)
        assert self._starts is not None
        return len(self._starts)

    def __getitem__(self, index: int) -> str:
        index = int(index)
        if self._decoded is not None:
            return self._decoded[index]
        if index in self._cache:
            return self._cache[index]
        assert self._starts is not None and self._ends is not None
        if not 0 <= index < len(self._starts):
            raise IndexError(index)
        text = json.loads(self._data[self._starts[index]:self._ends[index]])
        if not isinstance(text, str):
            raise HeapError("corrupt heap snapshot: the strings table holds a non-string")
        if len(self._cache) < 1_000_000:
            self._cache[index] = text
        return text

    def find(self, text: str) -> int:
        """Index of a string (V8 stores each string once), or -1."""
        if self._decoded is not None:
            try:
                return self._decoded.index(text)
            except ValueError:
                return -1
        assert self._starts is not None and self._ends is not None
        candidates = {json.dumps(text, ensure_ascii=False).encode(), json.dumps(text).encode()}
        for needle in candidates:
            pos = self._data.find(needle)
            while pos >= 0:
                i = int(np.searchsorted(self._starts, pos))
                if i < len(self._starts) and self._starts[i] == pos and self._ends[i] == pos + len(needle):
                    return i
                pos = self._data.find(needle, pos + 1)
        return -1

    def raw(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The JSON text of the strings as bytes (uint8) and where each starts and ends in it
        (kernels.path_keys hashes the names it needs from there)."""
        if self._decoded is None:
            assert self._starts is not None and self._ends is not None
            return np.frombuffer(self._data, dtype=np.uint8), self._starts, self._ends
        encoded = [json.dumps(t, ensure_ascii=False).encode() for t in self._decoded]
        lengths = np.fromiter((len(t) for t in encoded), np.int64, count=len(encoded))
        ends = np.cumsum(lengths)
        offset_type = np.int32 if len(ends) == 0 or ends[-1] < 2**31 - 1 else np.int64
        return (np.frombuffer(b"".join(encoded), dtype=np.uint8), (ends - lengths).astype(offset_type),
                ends.astype(offset_type))

    def find_many(self, texts: list[str]) -> dict[str, int]:
        return {t: self.find(t) for t in texts}

    @property
    def nbytes(self) -> int:
        return len(self._data)


def _string_table(section: bytes) -> StringTable:
    """`section` is the JSON array text `[ "...", ... ]` of the strings."""
    body_start = section.index(b"[") + 1
    body_end = section.rindex(b"]")
    raw = np.frombuffer(section, dtype=np.uint8)
    newlines = np.flatnonzero(raw[body_start:body_end] == 10) + body_start
    offset_type = np.int32 if len(section) < 2**31 - 1 else np.int64
    starts = np.concatenate(([body_start], newlines + 1)).astype(offset_type)
    ends = np.concatenate((newlines, [body_end])).astype(offset_type)
    del newlines
    # Trim blanks and the separating comma around each entry.
    ok = True
    if len(starts):
        blank = np.zeros(256, dtype=np.bool_)
        blank[[32, 13]] = True
        separator = np.zeros(256, dtype=np.bool_)
        separator[[44, 32, 13, 9]] = True
        for _ in range(3):  # at most a few blanks either side in the layouts we know
            lead = blank[raw[np.minimum(starts, len(raw) - 1)]] & (starts < ends)
            trail = separator[raw[np.maximum(ends - 1, 0)]] & (ends > starts)
            if not lead.any() and not trail.any():
                break
            starts = starts + lead
            ends = ends - trail
        ok = bool(np.all(ends - starts >= 2) and np.all(raw[starts] == 34) and np.all(raw[ends - 1] == 34))
        if ok:
            # Exactly two unescaped quotes per entry: else several strings share a line (a compact
            # file), and the JSON parser below reads them.
            ok = _unescaped_quotes(section, raw, body_start, body_end) == 2 * len(starts)
        if ok:
            # An entry that ends in an escaped quote (\") is not complete: not one string per line.
            prev = raw[np.maximum(ends - 2, 0)]
            if np.any((prev == 92) & (ends - starts > 2)):
                ok = _escapes_balanced(section, starts, ends, prev)
    if ok and len(starts):
        return StringTable(section, starts, ends)
    try:
        decoded = json.loads(section)
    except ValueError as exc:
        raise HeapError(f"corrupt heap snapshot: unreadable strings table ({exc.msg})") from None
    if not isinstance(decoded, list) or not all(isinstance(s, str) for s in decoded):
        raise HeapError("corrupt heap snapshot: the strings table is not a list of strings")
    return StringTable(b"", None, None, decoded)


def _unescaped_quotes(section: bytes, raw: np.ndarray, start: int, end: int) -> int:
    """How many `"` in section[start:end] are not escaped (not after an odd run of backslashes);
    in slices, so that no temporary is as large as the section."""
    count = 0
    step = 1 << 22
    for lo in range(max(start, 1), end, step):
        hi = min(end, lo + step)
        quote = raw[lo:hi] == 34
        after_backslash = quote & (raw[lo - 1:hi - 1] == 92)
        count += int(np.count_nonzero(quote)) - int(np.count_nonzero(after_backslash))
        for pos in (np.flatnonzero(after_backslash) + lo).tolist():
            run = 0
            while pos - run - 1 >= 0 and section[pos - run - 1] == 92:
                run += 1
            count += run % 2 == 0  # an even run escapes itself, not the quote
    if start == 0 and end > 0 and section[0] == 34:
        count += 1
    return count


def _escapes_balanced(section: bytes, starts: np.ndarray, ends: np.ndarray, prev: np.ndarray) -> bool:
    """For the few entries ending in a backslash before the quote: is that backslash escaped?"""
    for i in np.flatnonzero(prev == 92):
        run = 0
        pos = int(ends[i]) - 2
        while pos > starts[i] and section[pos] == 92:
            run += 1
            pos -= 1
        if run % 2 == 1:
            return False
    return True


@dataclass
class HeapSnapshot:
    """One V8 heap snapshot as columns. Node i's edges are edge_first[i]:edge_first[i+1]."""

    path: str
    node_types: list[str]
    edge_types: list[str]
    node_type: np.ndarray  # uint8
    node_name: np.ndarray  # uint32 string index
    node_id: np.ndarray  # uint32 / uint64, odd for JS objects (stable across snapshots of one process)
    self_size: np.ndarray  # uint32 / uint64
    edge_first: np.ndarray  # int64, N + 1
    edge_type: np.ndarray  # uint8
    edge_name: np.ndarray  # uint32: string index, or element / hidden index
    edge_to: np.ndarray  # int32 node index
    strings: StringTable
    locations: np.ndarray | None = None  # (K, 4): node index, script id, line, column
    meta: dict = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        return len(self.node_type)

    @property
    def edge_count(self) -> int:
        return len(self.edge_type)

    def node_type_code(self, name: str) -> int:
        return self.node_types.index(name) if name in self.node_types else -1

    def edge_type_code(self, name: str) -> int:
        return self.edge_types.index(name) if name in self.edge_types else -1

    def edge_sources(self) -> np.ndarray:
        """int32 source node of every edge."""
        counts = np.diff(self.edge_first)
        return np.repeat(np.arange(self.node_count, dtype=np.int32), counts)

    def edges_of(self, node: int) -> range:
        return range(int(self.edge_first[node]), int(self.edge_first[node + 1]))

    def edge_name_text(self, edge: int) -> str:
        """An edge's name as text: the property/variable name, or "[index]" for elements."""
        code = int(self.edge_type[edge])
        kind = self.edge_types[code] if code < len(self.edge_types) else "?"
        if kind in ("element", "hidden"):
            return f"[{int(self.edge_name[edge])}]"
        return self.strings[int(self.edge_name[edge])]

    def node_name_text(self, node: int) -> str:
        return self.strings[int(self.node_name[node])]

    def nbytes(self) -> int:
        arrays = (self.node_type, self.node_name, self.node_id, self.self_size, self.edge_first, self.edge_type,
                  self.edge_name, self.edge_to)
        return sum(a.nbytes for a in arrays) + self.strings.nbytes


# The longest constructor, function, property or variable name a snapshot may hold (in its JSON
# text). Names programs write are identifiers of a few dozen bytes; the longest real ones seen
# (minified bundles' generated names, URL-like keys of objects used as maps) are a few KiB. A
# 50 MB name made `diff` hang; longer than this is a hostile or corrupt file: refused in one line.
# String *values* (string nodes) are not names and are not capped.
MAX_NAME_BYTES = 64 * 1024
_NAMED_NODE_TYPES = ("object", "closure", "native", "synthetic")
_NAMED_EDGE_TYPES = ("property", "context", "shortcut", "internal", "weak")


def _name_lengths(strings: StringTable, indices: np.ndarray) -> np.ndarray:
    if strings._starts is not None and strings._ends is not None:
        return (strings._ends[indices] - strings._starts[indices]).astype(np.int64)
    decoded = strings._decoded or []
    return np.fromiter((len(decoded[int(i)].encode()) for i in indices), dtype=np.int64, count=len(indices))


def _check_name_lengths(path: str, strings: StringTable, node_types: list[str], node_type: np.ndarray,
                        node_name: np.ndarray, edge_types: list[str], edge_type: np.ndarray,
                        edge_name: np.ndarray) -> None:
    """HeapError when a name (not a string value) is longer than MAX_NAME_BYTES."""
    for types, kinds, names, what in ((node_types, node_type, node_name, "constructor or function"),
                                      (edge_types, edge_type, edge_name, "property or variable")):
        wanted = np.array([t in (_NAMED_NODE_TYPES if what != "property or variable" else _NAMED_EDGE_TYPES)
                           for t in types], dtype=np.bool_)
        for lo in range(0, len(kinds), 1 << 22):
            sel = names[lo:lo + (1 << 22)][wanted[kinds[lo:lo + (1 << 22)]]]
            if not len(sel):
                continue
            if strings._starts is None:
                sel = np.unique(sel)  # decoded strings are measured one by one: each name once
            longest = int(_name_lengths(strings, sel).max())
            if longest > MAX_NAME_BYTES:
                raise HeapError(f"{path} holds a {what} name of {longest} bytes, over the cap of "
                                f"{MAX_NAME_BYTES} (MAX_NAME_BYTES): a corrupt or hostile snapshot")


class _SlowPath(Exception):
    """The compiled number parser met something only the numpy reader handles."""


class _Fixed:
    """A column the compiled parser filled."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def result(self) -> np.ndarray:
        return self.array


class _Column:
    """A growing or preallocated integer column that widens itself when a value needs it."""

    def __init__(self, size: int | None, dtype: type) -> None:
        self.parts: list[np.ndarray] = []
        self.array = np.zeros(size, dtype=dtype) if size is not None else None
        self.dtype = np.dtype(dtype)

    def put(self, start: int, values: np.ndarray) -> None:
        if len(values) == 0:
            return
        if values.dtype.itemsize > self.dtype.itemsize and values.max() > np.iinfo(self.dtype).max:
            self.dtype = np.dtype(np.uint64)
            if self.array is not None:
                self.array = self.array.astype(np.uint64)
            self.parts = [p.astype(np.uint64) for p in self.parts]
        if self.array is not None:
            if start + len(values) > len(self.array):
                raise HeapError("corrupt heap snapshot: more numbers than its header announces")
            self.array[start:start + len(values)] = values
        else:
            self.parts.append(values.astype(self.dtype))

    def result(self) -> np.ndarray:
        if self.array is not None:
            return self.array
        return np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=self.dtype)


class _Reader:
    """Buffered reads over the file, with the absolute position for error messages."""

    def __init__(self, fh, path: str) -> None:  # type: ignore[no-untyped-def]
        self.fh = fh
        self.path = path
        self.buf = b""
        self.pos = 0  # position in buf
        self.base = 0  # file offset of buf[0]

    def fill(self) -> bool:
        data = self.fh.read(BLOCK)
        if not data:
            return False
        self.buf = self.buf[self.pos:] + data if self.pos < len(self.buf) else data  # (no copy when all is used)
        self.base += self.pos
        self.pos = 0
        return True

    def skip_ws(self) -> None:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in b" \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf) or not self.fill():
                return

    def peek(self) -> int:
        self.skip_ws()
        if self.pos >= len(self.buf):
            raise HeapError(f"{self.path} is truncated: the snapshot ends at byte {self.base + self.pos}")
        return self.buf[self.pos]

    def expect(self, char: bytes) -> None:
        if self.peek() != char[0]:
            got = bytes([self.buf[self.pos]])
            raise HeapError(f"{self.path} is not a valid V8 heap snapshot: expected {char.decode()!r} "
                            f"at byte {self.base + self.pos}, found {got!r}")
        self.pos += 1

    def json_value(self) -> object:
        """A small JSON value (the header, an unknown section) read with the JSON parser."""
        self.skip_ws()
        decoder = json.JSONDecoder()
        while True:
            text = self.buf[self.pos:].decode("utf-8", errors="surrogateescape")
            try:
                value, end = decoder.raw_decode(text)
            except ValueError:
                if not self.fill():
                    raise HeapError(f"{self.path} is truncated or corrupt near byte {self.base + self.pos}") from None
                continue
            # `end` counts characters; step over the same text in bytes.
            self.pos += len(text[:end].encode("utf-8", errors="surrogateescape"))
            return value

    def numbers(self, sink: Callable[[int, np.ndarray], None]) -> int:
        """Stream a flat array of integers `[n, n, ...]` into sink(index_of_first, values)."""
        self.expect(b"[")
        done = 0
        while True:
            close = self.buf.find(b"]", self.pos)
            if close >= 0:
                chunk = self.buf[self.pos:close]
                self.pos = close + 1
                return done + _parse_ints(chunk, sink, done, self.path, self.base + close)
            cut = self.buf.rfind(b",", self.pos)
            if cut >= 0:
                chunk = self.buf[self.pos:cut]
                self.pos = cut + 1
                done += _parse_ints(chunk, sink, done, self.path, self.base + cut)
            # What is left (part of a number) stays in the buffer and the next block is appended.
            if not self.fill():
                end = self.base + len(self.buf)
                raise HeapError(f"{self.path} is truncated: it ends inside an array at byte {end}")

    def numbers_fast(self, fmap: np.ndarray, divisor: np.ndarray, width: int, types_out: np.ndarray,
                     cols: np.ndarray) -> int:
        """Stream a flat array of integers `[n, n, ...]` through the compiled parser, which
        scatters the fields straight into their columns; the count of numbers read. Raises
        _SlowPath on anything it does not take (a wide or bad number, more rows than announced):
        the numpy reader then reads the file again and says what is wrong, if anything."""
        from memdoctor.heap.v8 import kernels

        self.expect(b"[")
        kernels.wait_for_parse_numbers()
        state = np.zeros(5, dtype=np.int64)
        while True:
            buf = np.frombuffer(self.buf, dtype=np.uint8)[self.pos:]
            end = kernels.parse_numbers(buf, state, fmap, divisor, width, types_out, cols)
            if state[3] != kernels.ERR_NONE:
                raise _SlowPath
            if end >= 0:
                self.pos += int(end)
                return int(state[2])
            self.pos = len(self.buf)
            if not self.fill():
                raise HeapError(f"{self.path} is truncated: it ends inside an array at byte {self.base + self.pos}")

    def skip_nested_numbers(self) -> None:
        """Skip a nested array of numbers (trace_tree) by counting brackets."""
        self.expect(b"[")
        depth = 1
        while True:
            close = self.buf.find(b"]", self.pos)
            if close >= 0 and self.buf.find(b"[", self.pos, close) < 0:  # the usual `[]`, or the last level
                depth -= 1
                self.pos = close + 1
                if depth == 0:
                    return
                continue
            arr = np.frombuffer(self.buf, dtype=np.uint8)[self.pos:]
            delta = np.cumsum((arr == 91).astype(np.int32) - (arr == 93).astype(np.int32))
            hit = np.flatnonzero(delta == -depth)
            if len(hit):
                self.pos += int(hit[0]) + 1
                return
            depth += int(delta[-1]) if len(delta) else 0
            self.pos = len(self.buf)
            if not self.fill():
                raise HeapError(f"{self.path} is truncated: it ends inside the trace tree")

    def rest(self) -> bytes:
        """Everything from here to the end of the file."""
        parts = [self.buf[self.pos:]]
        while True:
            data = self.fh.read(BLOCK * 4)
            if not data:
                break
            parts.append(data)
        self.buf = b"".join(parts)
        self.base += self.pos
        self.pos = 0
        return self.buf

    def string_array(self) -> bytes:
        """The raw JSON text of the strings array, `[` to `]`."""
        self.skip_ws()
        data = self.rest()
        tail = data.rstrip()
        if tail.endswith(b"}") and tail[:-1].rstrip().endswith(b"]"):
            # The usual layout: strings is the last section.
            end = len(tail[:-1].rstrip())
            section = data[:end]
            self.pos = end
            return section
        # Not last: let the JSON parser find where it ends.
        try:
            text = data.decode("utf-8", errors="surrogateescape")
            _, end_chars = json.JSONDecoder().raw_decode(text)
        except ValueError:
            raise HeapError(f"{self.path} is truncated or corrupt: the strings table does not end") from None
        end = len(text[:end_chars].encode("utf-8", errors="surrogateescape"))
        self.pos = end
        return data[:end]


def _parse_ints(chunk: bytes, sink: Callable[[int, np.ndarray], None], first: int, path: str, where: int) -> int:
    if not chunk.strip(b" \t\r\n,"):
        if chunk.strip(b" \t\r\n"):
            raise HeapError(f"{path} is corrupt near byte {where}: a stray comma in a number array")
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # older numpy warns where newer raises on unparsed text
        try:
            values = np.fromstring(chunk, dtype=np.int64, sep=",")  # C parser; text mode is not deprecated
        except (ValueError, DeprecationWarning):
            values = None
    if values is not None and len(values) and (values.min() < 0 or values.max() > 0xFFFFFFFF):
        if values.min() < 0:
            raise HeapError(f"{path} is corrupt near byte {where}: a negative number where a count, id or index "
                            "belongs")
        sink(first, values)  # wide values: the columns widen themselves
        return len(values)
    if values is not None:
        values = values.astype(np.uint32)
    if values is None or len(values) == 0:
        raise HeapError(f"{path} is corrupt near byte {where}: a number array holds something that is not a number")
    sink(first, values)
    return len(values)


def _fast_section(r: _Reader, cols: dict[str, _Column | _Fixed], fields: list[str], width: int, to_divisor: int,
                  rows: int) -> int:
    """Parse `nodes` or `edges` with the compiled parser: the `type` column as uint8, the others
    as rows of one uint32 matrix (`to_node` divided by the node width on the way)."""
    names = [k for k in cols if k != "type"]
    types_out = np.zeros(rows, dtype=np.uint8)
    matrix = np.zeros((len(names), rows), dtype=np.uint32)
    fmap = np.full(width, -1, dtype=np.int64)
    fmap[fields.index("type")] = -2
    divisor = np.ones(len(names), dtype=np.int64)
    for i, name in enumerate(names):
        fmap[fields.index(name)] = i
        if name == "to_node":
            divisor[i] = to_divisor
    done = r.numbers_fast(fmap, divisor, width, types_out, matrix)
    cols["type"] = _Fixed(types_out)
    for i, name in enumerate(names):
        cols[name] = _Fixed(matrix[i])
    return done


def _meta_fields(meta: dict, key: str) -> list[str]:
    fields = meta.get(key)
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise HeapError(f"not a V8 heap snapshot: snapshot.meta.{key} is missing")
    return fields


def _type_names(meta: dict, key: str, fields_key: str) -> list[str]:
    types = meta.get(key)
    fields = _meta_fields(meta, fields_key)
    if not isinstance(types, list) or "type" not in fields:
        raise HeapError(f"not a V8 heap snapshot: snapshot.meta.{key} is missing")
    names = types[fields.index("type")]
    if not isinstance(names, list):
        raise HeapError(f"not a V8 heap snapshot: snapshot.meta.{key} has no type names")
    return [str(n) for n in names]


NODE_COLUMNS = {"type": np.uint8, "name": np.uint32, "id": np.uint32, "self_size": np.uint32,
                "edge_count": np.uint32}
EDGE_COLUMNS = {"type": np.uint8, "name_or_index": np.uint32, "to_node": np.uint32}


def _column_sink(columns: dict[str, _Column], positions: dict[str, int], width: int,
                 divisors: dict[str, int] | None = None) -> Callable:
    """Scatter a run of numbers (starting at global index `first`) into one array per field.

    `divisors`: fields stored divided (to_node is an offset into `nodes`; we keep the node index).
    """
    def sink(first: int, values: np.ndarray) -> None:
        for name, column in columns.items():
            f = positions[name]
            offset = (f - first) % width
            sel = values[offset::width]
            if divisors and name in divisors:
                q, r = np.divmod(sel, divisors[name])
                if len(r) and r.any():
                    raise HeapError("corrupt heap snapshot: an edge points between two nodes")
                sel = q
            column.put((first + offset) // width, sel)
    return sink


def read_snapshot(path: str) -> HeapSnapshot:
    """Parse a V8 heap snapshot file. Raises HeapError with one line on bad input."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise HeapError(f"{path}: no such file") from None
    except OSError as exc:
        raise HeapError(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        try:
            try:
                return _read(fh, path, fast=True)
            except _SlowPath:
                fh.seek(0)
                return _read(fh, path, fast=False)
        except MemoryError:
            raise HeapError(f"{path}: not enough memory to read this snapshot") from None
        except UnicodeDecodeError:
            raise HeapError(f"{path} is not a V8 heap snapshot (not UTF-8 JSON)") from None


def read_snapshot_bytes(data: bytes, name: str = "<memory>") -> HeapSnapshot:
    """Parse a snapshot held in memory (small ones: tests, warm-up)."""
    import io

    try:
        return _read(io.BytesIO(data), name, fast=True)
    except _SlowPath:
        return _read(io.BytesIO(data), name, fast=False)


def _read(fh, path: str, fast: bool) -> HeapSnapshot:  # type: ignore[no-untyped-def]
    """Read a snapshot. `fast`: the nodes and edges through the compiled parser when the header
    announces their counts (what V8 always writes), straight into preallocated columns."""
    size = fh.getbuffer().nbytes if hasattr(fh, "getbuffer") else os.fstat(fh.fileno()).st_size
    if size == 0:
        raise HeapError(f"{path} is empty")
    r = _Reader(fh, path)
    r.fill()
    r.expect(b"{")
    header: dict | None = None
    node_cols: dict[str, _Column] = {}
    edge_cols: dict[str, _Column] = {}
    loc_parts: list[np.ndarray] = []
    strings: StringTable | None = None
    counts = {"nodes": 0, "edges": 0}
    nf = ef = 0
    while True:
        if r.peek() == ord("}"):
            r.pos += 1
            break
        key = r.json_value()
        if not isinstance(key, str):
            raise HeapError(f"{path} is not a V8 heap snapshot (a key that is not a string)")
        r.expect(b":")
        if key == "snapshot":
            header = r.json_value()  # type: ignore[assignment]
            if not isinstance(header, dict) or not isinstance(header.get("meta"), dict):
                raise HeapError(f"{path} is not a V8 heap snapshot: no snapshot.meta")
            meta = header["meta"]
            node_fields = _meta_fields(meta, "node_fields")
            edge_fields = _meta_fields(meta, "edge_fields")
            nf, ef = len(node_fields), len(edge_fields)
            for name in ("type", "name", "id", "self_size", "edge_count"):
                if name not in node_fields:
                    raise HeapError(f"{path}: snapshot.meta.node_fields has no {name!r}")
            for name in ("type", "name_or_index", "to_node"):
                if name not in edge_fields:
                    raise HeapError(f"{path}: snapshot.meta.edge_fields has no {name!r}")
            n_nodes = header.get("node_count") if isinstance(header.get("node_count"), int) else None
            n_edges = header.get("edge_count") if isinstance(header.get("edge_count"), int) else None
            node_cols = {k: _Column(n_nodes, t) for k, t in NODE_COLUMNS.items()}
            edge_cols = {k: _Column(n_edges, t) for k, t in EDGE_COLUMNS.items()}
            fast = fast and n_nodes is not None and n_edges is not None
        elif key in ("nodes", "edges") and fast and header is not None:
            cols, fields, width = ((node_cols, node_fields, nf) if key == "nodes" else (edge_cols, edge_fields, ef))
            counts[key] = _fast_section(r, cols, fields, width, nf if key == "edges" else 1,
                                        n_nodes if key == "nodes" else n_edges)
            if counts[key] % width:
                raise HeapError(f"{path} is corrupt: {key} holds {counts[key]} numbers, not a multiple of {width}")
        elif key in ("nodes", "edges"):
            if header is None:
                raise HeapError(f"{path} is not a V8 heap snapshot: {key} before the header")
            cols, fields, width = ((node_cols, node_fields, nf) if key == "nodes" else (edge_cols, edge_fields, ef))
            divisors = {"to_node": nf} if key == "edges" else None
            counts[key] = r.numbers(_column_sink(cols, {k: fields.index(k) for k in cols}, width, divisors))
            if counts[key] % width:
                raise HeapError(f"{path} is corrupt: {key} holds {counts[key]} numbers, not a multiple of {width}")
        elif key == "locations":
            def keep(first: int, values: np.ndarray) -> None:
                loc_parts.append(values)
            r.numbers(keep)
        elif key == "strings":
            strings = _string_table(r.string_array())
        elif key in ("samples", "trace_function_infos"):
            r.numbers(lambda first, values: None)
        elif key == "trace_tree":
            r.skip_nested_numbers()
        else:
            r.json_value()
        if r.peek() == ord(","):
            r.pos += 1
    if header is None:
        raise HeapError(f"{path} is not a V8 heap snapshot: no snapshot header")
    if strings is None:
        raise HeapError(f"{path} is truncated or corrupt: no strings table")
    meta = header["meta"]
    n = counts["nodes"] // nf
    m = counts["edges"] // ef
    for key, got in (("node_count", n), ("edge_count", m)):
        expected = header.get(key)
        if isinstance(expected, int) and expected != got:
            raise HeapError(f"{path} is truncated or corrupt: header says {key} {expected}, the file holds {got}")
    if n == 0:
        raise HeapError(f"{path} holds no nodes")
    edge_count = node_cols["edge_count"].result()
    edge_first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(edge_count.astype(np.int64), out=edge_first[1:])
    del edge_count
    if int(edge_first[-1]) != m:
        raise HeapError(f"{path} is corrupt: its nodes announce {int(edge_first[-1])} edges, it holds {m}")
    edge_to = edge_cols["to_node"].result()
    if m and int(edge_to.max()) >= n:
        raise HeapError(f"{path} is corrupt: an edge points outside the nodes")
    edge_to = edge_to.view(np.int32) if edge_to.dtype == np.uint32 else edge_to.astype(np.int64)
    node_types = _type_names(meta, "node_types", "node_fields")
    edge_types = _type_names(meta, "edge_types", "edge_fields")
    node_type = node_cols["type"].result().astype(np.uint8, copy=False)
    edge_type = edge_cols["type"].result().astype(np.uint8, copy=False)
    if node_type.max() >= len(node_types) or (m and edge_type.max() >= len(edge_types)):
        raise HeapError(f"{path} is corrupt: a node or edge type outside snapshot.meta")
    node_name = node_cols["name"].result()
    edge_name = edge_cols["name_or_index"].result()
    string_count = len(strings)
    if node_name.max() >= string_count:
        raise HeapError(f"{path} is corrupt or truncated: a node name outside the strings table")
    is_named = np.array([t not in ("element", "hidden") for t in edge_types], dtype=np.bool_)
    for lo in range(0, m, 1 << 22):  # in slices: no edge-sized temporaries
        names = edge_name[lo:lo + (1 << 22)]
        named = is_named[edge_type[lo:lo + (1 << 22)]]
        if named.any() and names[named].max() >= string_count:
            raise HeapError(f"{path} is corrupt or truncated: an edge name outside the strings table")
    _check_name_lengths(path, strings, node_types, node_type, node_name, edge_types, edge_type, edge_name)
    locations = None
    if loc_parts:
        loc_fields = meta.get("location_fields") or ["object_index", "script_id", "line", "column"]
        flat = np.concatenate(loc_parts)
        width = len(loc_fields)
        if width and len(flat) % width == 0 and "object_index" in loc_fields:
            raw = flat.reshape(-1, width)
            cols = [raw[:, loc_fields.index(k)] if k in loc_fields else np.zeros(len(raw), np.int64)
                    for k in ("object_index", "script_id", "line", "column")]
            locations = np.column_stack(cols)
            locations[:, 0] //= nf
    return HeapSnapshot(path=path, node_types=node_types, edge_types=edge_types, node_type=node_type,
                        node_name=node_name, node_id=node_cols["id"].result(),
                        self_size=node_cols["self_size"].result(), edge_first=edge_first, edge_type=edge_type,
                        edge_name=edge_name, edge_to=edge_to, strings=strings, locations=locations,
                        meta={k: v for k, v in header.items() if k != "meta"} | {"meta": meta})
