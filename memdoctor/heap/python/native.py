"""Python objects or something else? Judge where RSS growth lives, from the agent's numbers.

Pure functions over PySnapshot: the interpreter's view (sizes of the live objects, pymalloc
arenas) next to glibc's (memory in use, free but kept, the number of malloc arenas, what
malloc_trim(0) gave back) and RSS.
"""

from __future__ import annotations

from memdoctor.heap.python.reader import PySnapshot
from memdoctor.units import format_bytes

MIN_GROWTH = 4 << 20  # below this, RSS growth is noise for this judgement


def describe_one(snap: PySnapshot) -> list[str]:
    """Notes for a single snapshot: how much of RSS the Python heap explains."""
    notes: list[str] = []
    if snap.rss is None or snap.objects_bytes is None:
        return notes
    arenas = snap.pymalloc.get("arena_bytes")
    # Not "objects in arenas": pymalloc serves objects of up to 512 bytes, larger ones come from malloc, so the objects
    # can outweigh the arenas ("Python objects 27.8 MiB in 20.0 MiB of pymalloc arenas", a helper's review, 2026-12-08).
    notes.append(f"Python objects {format_bytes(snap.objects_bytes)}"
                 + (f" (the small ones in {format_bytes(arenas)} of pymalloc arenas, the rest from malloc)"
                    if arenas else "")
                 + f", RSS {format_bytes(snap.rss)}")
    free = snap.glibc.get("free")
    released = snap.glibc.get("trim_released")
    if released and released >= MIN_GROWTH:
        notes.append(f"malloc_trim(0) gave {format_bytes(released)} back to the system: glibc was keeping freed "
                     "memory (fragmentation, not a leak)")
    if free and free >= MIN_GROWTH and (snap.glibc.get("arenas") or 1) > 2 and (snap.threads or 1) > 1:
        # Free chunks are address space the arenas keep, not all of it resident: "glibc keeps 45.3 MiB free" stood
        # beside an RSS of 64.0 MiB holding 27.8 MiB of objects (the same review).
        notes.append(f"glibc's {snap.glibc.get('arenas')} malloc arenas hold {format_bytes(free)} of free chunks "
                     "(address space, not all of it in RSS): MALLOC_ARENA_MAX=2 would bound that")
    return notes


def describe_growth(first: PySnapshot, last: PySnapshot) -> list[str]:
    """Notes for a diff: is the growth in Python objects, in native memory, or fragmentation?"""
    if first.rss is None or last.rss is None:
        return []
    rss_growth = last.rss - first.rss
    if rss_growth < MIN_GROWTH:
        return []
    notes: list[str] = []
    objects = _growth(first.objects_bytes, last.objects_bytes)
    arenas = _growth(first.pymalloc.get("arena_bytes"), last.pymalloc.get("arena_bytes"))
    in_use = _growth(_native_in_use(first), _native_in_use(last))
    free = _growth(first.glibc.get("free"), last.glibc.get("free"))
    released = last.glibc.get("trim_released") or 0
    if objects is not None and objects >= 0.5 * rss_growth:
        notes.append(f"RSS grew {format_bytes(rss_growth)}, Python objects {format_bytes(objects)}: the growth is in "
                     "the Python heap (see the rows above)")
        return notes
    outside = rss_growth - max(objects or 0, arenas or 0)
    notes.append(f"RSS grew {format_bytes(rss_growth)} but Python objects only {format_bytes(objects or 0)}: "
                 f"about {format_bytes(outside)} grew outside the Python heap")
    if arenas is not None and objects is not None and arenas - objects >= MIN_GROWTH:
        notes.append(f"pymalloc arenas grew {format_bytes(arenas)} for {format_bytes(objects)} of objects: arena "
                     "fragmentation (many small objects freed out of order)")
    if free is not None and (free >= 0.3 * outside or released >= 0.3 * outside):
        many = (last.glibc.get("arenas") or 1) > 2 and (last.threads or 1) > 1
        notes.append(f"glibc keeps {format_bytes(max(free, 0))} more free memory"
                     + (f" (malloc_trim(0) gave back {format_bytes(released)})" if released else "")
                     + ": allocator fragmentation, not live objects"
                     + (f"; {last.glibc.get('arenas')} malloc arenas for {last.threads} threads: MALLOC_ARENA_MAX=2 "
                        "would help" if many else ""))
    elif in_use is not None and in_use >= 0.5 * outside:
        notes.append(f"native memory in use grew {format_bytes(in_use)}: a C extension or native library holds it "
                     "(memray run --native shows which)")
    return notes


def _native_in_use(snap: PySnapshot) -> int | None:
    used = snap.glibc.get("in_use")
    mapped = snap.glibc.get("mmapped")
    if used is None:
        return None
    return int(used) + int(mapped or 0)


def _growth(a: float | int | None, b: float | int | None) -> int | None:
    if a is None or b is None:
        return None
    return int(b - a)
