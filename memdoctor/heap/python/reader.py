"""Read Python heap snapshots into one plain model, whatever tool made them.

Formats:
- memdoctor's own snapshot (JSON starting with {"memdoctor_heap": ...}), written by agent.py;
- tracemalloc `Snapshot.dump()` files: pickles, read with an unpickler that admits only
  tracemalloc's own classes (any other global in the file is refused before it is loaded);
- memray capture files, through memray's own `FileReader` (allocation sites of what was alive
  at the capture's memory peak).
Every failure is a HeapError with one line and the remedy.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from memdoctor.heap.model import read_meta
from memdoctor.heap.runtimes import HeapError

MAX_SNAPSHOT_BYTES = 512 << 20
# The longest type, container or site name a snapshot may hold. Python's own qualified names of real
# programs stay well under 1 KiB (the agent keeps attribute names of at most 80 characters, and a
# site is a file path, <= PATH_MAX 4096, plus a function name); a 50 MB name made `diff` hang in the
# table renderer. Longer is a corrupt or hostile file: refused with one line.
MAX_NAME_CHARS = 8192


def check_name(name: str, path: str) -> str:
    """`name` if it is within MAX_NAME_CHARS, else a HeapError naming the cap."""
    if len(name) > MAX_NAME_CHARS:
        raise HeapError(f"{path} holds a name of {len(name)} characters, over the cap of {MAX_NAME_CHARS} "
                        "(MAX_NAME_CHARS): not a snapshot memdoctor wrote, or a corrupt one")
    return name


@dataclass
class Container:
    type: str
    where: str
    entries: int
    bytes: int
    exact: bool = True
    # Newest entries as short reprs: only in snapshots taken with `snapshot --show-values`.
    values: list[str] | None = None


@dataclass
class Site:
    count: int
    bytes: int
    caller: str | None = None


@dataclass
class PySnapshot:
    path: str
    source: str  # "memdoctor", "tracemalloc", "memray"
    captured_at: float | None  # unix seconds
    rss: int | None = None
    limit_bytes: int | None = None
    pid: int | None = None
    types: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (count, bytes)
    containers: dict[str, Container] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    objects_bytes: int | None = None
    threads: int | None = None
    pymalloc: dict[str, int] = field(default_factory=dict)
    glibc: dict[str, int] = field(default_factory=dict)
    # Objects the agent passed over because their own code raised or lied (see agent._Skipped):
    # {"objects": N, "first": "module.name", "error": "RuntimeError"}, or None.
    skipped: dict[str, Any] | None = None


def read_snapshot(path: str) -> PySnapshot:
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except FileNotFoundError:
        raise HeapError(f"{path}: no such file") from None
    except PermissionError:
        raise HeapError(f"cannot read {path}: permission denied (snapshots are mode 0600: read them as their "
                        "owner or root)") from None
    except OSError as exc:
        raise HeapError(f"cannot read {path}: {exc.strerror}") from None
    stripped = head.lstrip()
    if stripped.startswith(b'{"memdoctor_heap"'):
        snap = _read_memdoctor(path)
    elif head[:1] == b"\x80":
        snap = _read_tracemalloc(path)
    elif head.startswith((b"memray", b"\x04\x22\x4d\x18")):  # plain or LZ4-compressed (memray's default)
        snap = _read_memray(path)
    else:
        raise HeapError(f"{path} is not a Python heap snapshot memdoctor reads (memdoctor snapshots, tracemalloc "
                        "dumps, memray captures)")
    meta = read_meta(path)
    if snap.captured_at is None:
        snap.captured_at = _meta_time(meta)
    if snap.rss is None and isinstance(meta.get("rss"), int):
        snap.rss = meta["rss"]
    if isinstance(meta.get("limit_bytes"), int) and meta.get("limit_source", "cgroup").startswith(("cgroup", "--")):
        snap.limit_bytes = meta["limit_bytes"]
    return snap


def _meta_time(meta: dict[str, Any]) -> float | None:
    if isinstance(meta.get("captured_at_unix"), (int, float)):
        return float(meta["captured_at_unix"])
    text = meta.get("captured_at")
    if isinstance(text, str):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


# --------------------------------------------------------------------------- memdoctor's format


def _read_memdoctor(path: str) -> PySnapshot:
    size = os.path.getsize(path)
    if size > MAX_SNAPSHOT_BYTES:
        raise HeapError(f"{path} is {size} bytes: too large for a memdoctor Python snapshot (corrupt?)")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except ValueError as exc:
        where = getattr(exc, "pos", None)
        at = f" at byte {where}" if where is not None else ""
        raise HeapError(f"{path} is truncated or corrupt (invalid JSON{at}): take the snapshot again") from None
    except OSError as exc:
        raise HeapError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(data, dict) or not isinstance(data.get("types"), list):
        raise HeapError(f"{path} is not a complete memdoctor Python snapshot (no type table): take it again")
    try:
        snap = PySnapshot(
            path=path, source="memdoctor", captured_at=_num(data.get("captured_at_unix")),
            rss=_int(data.get("rss")), limit_bytes=None, pid=_int(data.get("pid")),
            objects_bytes=_int(data.get("objects_bytes")), threads=_int(data.get("threads")),
            pymalloc={k: v for k, v in (data.get("pymalloc") or {}).items() if isinstance(v, int)},
            glibc={k: v for k, v in (data.get("glibc") or {}).items() if isinstance(v, (int, float))},
        )
        for row in data["types"]:
            name, count, size_b = check_name(str(row[0]), path), int(row[1]), int(row[2])
            old = snap.types.get(name, (0, 0))
            snap.types[name] = (old[0] + count, old[1] + size_b)
        for row in data.get("containers") or []:
            snap.containers[check_name(str(row["path"]), path)] = Container(type=str(row.get("type", "?")),
                                                         where=str(row.get("where", "")),
                                                         entries=int(row.get("entries", 0)),
                                                         bytes=int(row.get("bytes", 0)),
                                                         exact=bool(row.get("exact", True)),
                                                         values=_values(row.get("values")))
        for row in data.get("sites") or []:
            snap.sites[check_name(str(row["site"]), path)] = Site(
                count=int(row.get("count", 0)), bytes=int(row.get("bytes", 0)), caller=row.get("caller"))
        skipped = data.get("skipped")
        if isinstance(skipped, dict) and isinstance(skipped.get("objects"), int) and skipped["objects"] > 0:
            first = skipped.get("first")
            snap.skipped = {"objects": skipped["objects"],
                            "first": check_name(first, path) if isinstance(first, str) else None,
                            "error": str(skipped.get("error"))[:80] if skipped.get("error") else None}
    except (KeyError, TypeError, ValueError, IndexError):
        raise HeapError(f"{path} is corrupt (unexpected rows in a memdoctor Python snapshot): take it again") from None
    return snap


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None


# --------------------------------------------------------------------------- tracemalloc dumps


class _TracemallocOnly(pickle.Unpickler):
    """Admits tracemalloc.Snapshot and tracemalloc._Traces and nothing else."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {("tracemalloc", "Snapshot"), ("tracemalloc", "_Traces")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            import tracemalloc

            return getattr(tracemalloc, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def _read_tracemalloc(path: str) -> PySnapshot:
    import tracemalloc

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SNAPSHOT_BYTES + 1)
    except OSError as exc:
        raise HeapError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise HeapError(f"{path} is larger than {MAX_SNAPSHOT_BYTES >> 20} MiB: not read")
    try:
        obj = _TracemallocOnly(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        raise HeapError(f"{path} is a pickle but not a tracemalloc snapshot ({exc}); refused") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError):
        raise HeapError(f"{path} is truncated or corrupt (not a complete tracemalloc dump)") from None
    if not isinstance(obj, tracemalloc.Snapshot):
        raise HeapError(f"{path} is a pickle but not a tracemalloc Snapshot.dump() file; refused")
    snap = PySnapshot(path=path, source="tracemalloc", captured_at=None)
    try:
        for stat in obj.statistics("lineno"):
            frame = stat.traceback[0]
            site = f"{frame.filename}:{frame.lineno}"
            snap.sites[site] = Site(count=int(stat.count), bytes=int(stat.size))
    except (TypeError, ValueError, AttributeError, IndexError):
        raise HeapError(f"{path} is a corrupt tracemalloc dump (malformed traces)") from None
    return snap


# --------------------------------------------------------------------------- memray captures


def _read_memray(path: str) -> PySnapshot:
    try:
        import memray
    except ImportError:
        raise HeapError(f"{path} is a memray capture: reading it needs memray: "
                        "pip install 'memdoctor[memray]'") from None
    try:
        reader = memray.FileReader(path)
    except (OSError, ValueError, RuntimeError) as exc:
        raise HeapError(f"{path} is an unreadable or truncated memray capture: {str(exc).splitlines()[0]}") from None
    snap = PySnapshot(path=path, source="memray", captured_at=None)
    try:
        end = reader.metadata.end_time
        snap.captured_at = end.timestamp() if end else None
        # What was alive at the peak: for a leaking program the peak is the end, and unlike the
        # "leaked at exit" records it still holds the module globals that the shutdown freed.
        records = list(reader.get_high_watermark_allocation_records(merge_threads=True))
        for rec in records:
            stack = rec.stack_trace(max_stacks=1)
            site = f"{stack[0][1]}:{stack[0][2]}" if stack else "<unknown>"
            old = snap.sites.get(site)
            if old is None:
                snap.sites[site] = Site(count=int(rec.n_allocations), bytes=int(rec.size))
            else:
                old.count += int(rec.n_allocations)
                old.bytes += int(rec.size)
    except (OSError, ValueError, RuntimeError) as exc:
        raise HeapError(f"{path} is an unreadable memray capture: {str(exc).splitlines()[0]}") from None
    finally:
        close = getattr(reader, "close", None)
        if close:
            close()
    return snap


def _values(raw: object) -> list[str] | None:
    """Sample entries recorded with --show-values, kept as short strings (the file is untrusted)."""
    if not isinstance(raw, list):
        return None
    return [str(v)[:200] for v in raw[:10]]
