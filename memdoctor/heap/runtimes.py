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
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from memdoctor.errors import MemdoctorError

ENGINES = {"python": "memdoctor.heap.python", "node": "memdoctor.heap.v8"}


class HeapError(MemdoctorError):
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


def numbered_paths(output: str, count: int) -> list[str]:
    """Where a series of `count` snapshots goes: a.heapsnapshot -> a.1.heapsnapshot, a.2.heapsnapshot, ..."""
    if count == 1:
        return [output]
    head, dot, ext = output.rpartition(".")
    if not dot or "/" in ext:
        head, ext = output, ""
    return [f"{head}.{i}" + (f".{ext}" if ext else "") for i in range(1, count + 1)]


def capture_series(runtime: str, pid: int, outputs: list[str], *, every_s: float, options: CaptureOptions,
                   on_written: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Snapshots of one process, `every_s` apart. An engine with its own `capture_series` does it in one
    session (V8: comparable object ids); otherwise separate captures, with the process checked between."""
    capture = engine(runtime, "capture")
    if len(outputs) > 1 and hasattr(capture, "capture_series"):
        return capture.capture_series(pid, outputs, every_s=every_s, options=options, on_written=on_written)
    metas: list[dict[str, Any]] = []
    for i, output in enumerate(outputs):
        if i:
            time.sleep(every_s)
            if not os.path.exists(f"/proc/{pid}"):
                raise HeapError(f"process {pid} exited after {i} of {len(outputs)} snapshots (those are kept)")
        metas.append(capture.capture(pid, output, options=options))
        if on_written is not None:
            on_written(metas[-1])
    return metas
