"""The notes a Python snapshot prints about where RSS lives (heap/python/native.py): true to the numbers beside them."""

from __future__ import annotations

from memdoctor.heap.python.native import describe_one
from memdoctor.heap.python.reader import PySnapshot

MiB = 1024**2


def test_objects_larger_than_the_arenas_are_not_said_to_be_in_them() -> None:
    """A Flask job worker's snapshot (a helper's review, 2026-12-08) printed "Python objects 27.8 MiB in 20.0 MiB of
    pymalloc arenas, RSS 64.0 MiB" (pymalloc serves objects up to 512 B; larger ones come from malloc) and "glibc
    keeps 45.3 MiB free across 6 malloc arenas" beside that RSS (free chunks are address space, not all resident)."""
    snap = PySnapshot(path="s.snap", source="memdoctor", captured_at=None, rss=64 * MiB,
                      objects_bytes=int(27.8 * MiB), threads=4, pymalloc={"arena_bytes": 20 * MiB},
                      glibc={"free": int(45.3 * MiB), "arenas": 6})
    notes = describe_one(snap)
    assert not any("27.8 MiB in 20.0 MiB of pymalloc arenas" in n for n in notes), notes
    assert any("27.8 MiB" in n and "the rest from malloc" in n for n in notes), notes
    assert any("45.3 MiB of free chunks" in n and "not all of it in RSS" in n for n in notes), notes
