"""Dispatch of `snapshot` and `diff` to the engine of each runtime.

An engine is a subpackage exposing:
- `capture.capture(pid: int, output: str, *, options: CaptureOptions) -> dict` (returns the
  metadata it wrote beside the snapshot), and
- `diff.diff_snapshots(paths: list[str], *, limit_bytes: int | None, top: int) -> DiffResult`
  for the snapshot formats it reads.
Engines are imported only when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

ENGINES = {"python": "memdoctor.heap.python", "node": "memdoctor.heap.v8"}


class HeapError(Exception):
    """A snapshot cannot be taken or read: one line, with the remedy."""


@dataclass
class CaptureOptions:
    allocations_s: float | None = None  # record allocation sites for that long
    timeout_s: float = 60.0
    force: bool = False  # go ahead even when the capture would likely OOM the target
    show_values: bool = False  # never print heap string values unless asked


def engine(runtime: str, part: str) -> ModuleType:
    """The `capture` or `diff` module of a runtime's engine."""
    if runtime not in ENGINES:
        raise HeapError(f"no heap support for runtime {runtime!r} (supported: {', '.join(ENGINES)})")
    try:
        return importlib.import_module(f"{ENGINES[runtime]}.{part}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(ENGINES[runtime]):
            raise HeapError(f"heap {part} for {runtime} is not available in this version of memdoctor") from None
        raise
